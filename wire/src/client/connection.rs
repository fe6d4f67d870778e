//! [`Connection`]: one client connection over any byte stream.

use std::future::Future;
use std::time::Duration;

use bson::Document;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::hello::{check_ok, hello_command, HelloReply};
use crate::error::ClientError;
use crate::framing::{read_message, write_message};
use crate::limits::DEFAULT_MAX_MESSAGE_SIZE;
use crate::message::{Header, Message, MsgFlags, OpMsg};

/// A client connection: request ids, the handshake and command round trips over a stream.
///
/// Requests and replies strictly alternate; the connection has no background task. After
/// any error other than [`ClientError::Command`] the stream may be out of step: drop the
/// connection (see [`ClientError::is_network_error`]).
#[derive(Debug)]
pub struct Connection<S> {
    /// The transport.
    stream: S,
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
            let (header, reply) = read_message(&mut self.stream, DEFAULT_MAX_MESSAGE_SIZE).await?;
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
        bounded(limit, async {
            Ok(read_message(&mut self.stream, DEFAULT_MAX_MESSAGE_SIZE).await?)
        })
        .await
    }

    async fn send_now(&mut self, message: &Message) -> Result<i32, ClientError> {
        let request_id = self.take_request_id();
        write_message(&mut self.stream, message, request_id, 0).await?;
        Ok(request_id)
    }
}

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
