//! [`Connection`]: one client connection over any byte stream.

use std::future::Future;
use std::time::Duration;

use bson::Document;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::hello::{check_ok, hello_command, HelloReply};
use crate::error::ClientError;
use crate::framing::{read_frame_into, write_message_with};
use crate::limits::DEFAULT_MAX_MESSAGE_SIZE;
use crate::message::{Header, Message, MsgFlags, OpMsg};

/// A client connection: request ids, the handshake and command round trips over a stream.
///
/// Requests and replies strictly alternate; the connection has no background task. After
/// any error other than [`ClientError::Command`] the stream may be out of step: drop the
/// connection (see [`ClientError::is_network_error`]).
///
/// Each request is encoded into one buffer and written with one write call; each reply
/// is read into one buffer. Both buffers belong to the connection and are reused, so a
/// round trip allocates nothing for the bytes on the wire (a buffer that grew past
/// [`RETAINED_BUFFER_MAX`] for a large message is released afterwards).
#[derive(Debug)]
pub struct Connection<S> {
    /// The transport.
    stream: S,
    /// The encoding of the last request sent (scratch, reused).
    write_buf: Vec<u8>,
    /// The bytes of the last message read (scratch, reused).
    read_buf: Vec<u8>,
    /// The id of the next request; positive, and never reused until it wraps.
    next_request_id: i32,
    /// The server's hello reply, once the handshake ran.
    hello: Option<HelloReply>,
    /// The bound on one operation (write and read), if any.
    operation_timeout: Option<Duration>,
}

impl<S> Connection<S> {
    /// A connection over `stream`, before any handshake.
    pub fn new(stream: S) -> Self {
        Connection {
            stream,
            write_buf: Vec::new(),
            read_buf: Vec::new(),
            next_request_id: 1,
            hello: None,
            operation_timeout: None,
        }
    }

    /// The reply of the last successful [`handshake`](Connection::handshake).
    pub fn hello_reply(&self) -> Option<&HelloReply> {
        self.hello.as_ref()
    }

    /// Bounds every later operation; past it, the operation fails with
    /// [`ClientError::Timeout`]. `None` (the default) waits forever.
    pub fn set_operation_timeout(&mut self, timeout: Option<Duration>) {
        self.operation_timeout = timeout;
    }

    /// The transport.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Releases a scratch buffer that a large message grew past [`RETAINED_BUFFER_MAX`].
    fn trim_buffers(&mut self) {
        for buf in [&mut self.write_buf, &mut self.read_buf] {
            if buf.capacity() > RETAINED_BUFFER_MAX {
                *buf = Vec::new();
            }
        }
    }

    fn take_request_id(&mut self) -> i32 {
        let id = self.next_request_id;
        self.next_request_id = id.checked_add(1).unwrap_or(1);
        debug_assert!(id > 0, "request ids are positive");
        id
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Runs the `hello` handshake (OP_MSG on `admin`) and keeps the reply.
    ///
    /// # Errors
    /// As [`run_command`](Connection::run_command), plus [`ClientError::Protocol`] for a
    /// reply that is not a hello reply.
    pub async fn handshake(&mut self, app_name: Option<&str>) -> Result<HelloReply, ClientError> {
        let reply = self.run_command("admin", hello_command(app_name)).await?;
        let hello = HelloReply::from_document(reply)?;
        self.hello = Some(hello.clone());
        Ok(hello)
    }

    /// Runs `command` on database `db` (adding `$db` unless present) and returns the reply
    /// body with `ok: 1`.
    ///
    /// # Errors
    /// [`ClientError::Command`] for an `ok: 0` reply; [`ClientError::Wire`],
    /// [`ClientError::Protocol`] or [`ClientError::Timeout`] otherwise.
    ///
    /// # Cancel safety
    /// Not cancel safe: drop the connection if the future is dropped part-way.
    pub async fn run_command(
        &mut self,
        db: &str,
        mut command: Document,
    ) -> Result<Document, ClientError> {
        if !command.contains_key("$db") {
            command.insert("$db", db);
        }
        let reply = self.round_trip(OpMsg::command(command)).await?;
        check_ok(reply.into_command()?)
    }

    /// Sends `request` as OP_MSG and returns the OP_MSG that answers it.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] if `request` has `moreToCome` (it gets no reply; use
    /// [`send`](Connection::send)) or the reply does not answer it.
    pub async fn round_trip(&mut self, request: OpMsg) -> Result<OpMsg, ClientError> {
        if request.flags.contains(MsgFlags::MORE_TO_COME) {
            return Err(ClientError::Protocol(
                "a moreToCome request gets no reply; use send()".into(),
            ));
        }
        let limit = self.operation_timeout;
        bounded(limit, async {
            let request_id = self.send_now(&Message::Msg(request)).await?;
            let (header, reply) = self.read_now().await?;
            if header.response_to != request_id {
                return Err(ClientError::Protocol(format!(
                    "reply answers request {} but request {request_id} was sent",
                    header.response_to
                )));
            }
            match reply {
                Message::Msg(reply) => Ok(reply),
                other => Err(ClientError::Protocol(format!(
                    "expected an OP_MSG reply, got {:?}",
                    other.op_code()
                ))),
            }
        })
        .await
    }

    /// Sends one message and returns its request id, without waiting for a reply.
    ///
    /// # Errors
    /// [`ClientError::Wire`] or [`ClientError::Timeout`].
    pub async fn send(&mut self, message: &Message) -> Result<i32, ClientError> {
        let limit = self.operation_timeout;
        bounded(limit, self.send_now(message)).await
    }

    /// Reads the next message, whatever it is.
    ///
    /// # Errors
    /// [`ClientError::Wire`] or [`ClientError::Timeout`].
    pub async fn receive(&mut self) -> Result<(Header, Message), ClientError> {
        let limit = self.operation_timeout;
        bounded(limit, self.read_now()).await
    }

    async fn send_now(&mut self, message: &Message) -> Result<i32, ClientError> {
        let request_id = self.take_request_id();
        let written = write_message_with(
            &mut self.stream,
            message,
            request_id,
            0,
            &mut self.write_buf,
        )
        .await;
        self.trim_buffers();
        written?;
        Ok(request_id)
    }

    async fn read_now(&mut self) -> Result<(Header, Message), ClientError> {
        let read = read_frame_into(
            &mut self.stream,
            DEFAULT_MAX_MESSAGE_SIZE,
            &mut self.read_buf,
        )
        .await;
        let decoded = read.and_then(|()| Message::decode(&self.read_buf, DEFAULT_MAX_MESSAGE_SIZE));
        self.trim_buffers();
        Ok(decoded?)
    }
}

/// The largest scratch buffer a [`Connection`] keeps between messages; one grown past it
/// for a larger message is freed once that message is done.
pub const RETAINED_BUFFER_MAX: usize = 64 * 1024;

/// Runs `operation` under `limit`, if there is one.
pub(crate) async fn bounded<T>(
    limit: Option<Duration>,
    operation: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, operation)
            .await
            .map_err(|_| ClientError::Timeout(limit))?,
        None => operation.await,
    }
}
