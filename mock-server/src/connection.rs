//! One client connection: admission, the request loop, fail points, faults and replies.
//!
//! [`serve_connection`] is generic over the stream, so the same code serves a TCP socket,
//! a `tokio::io::duplex` pipe in tests, or a simulated network.
//!
//! Per request: read one frame (length checked before the body is read), decode it,
//! apply black-holing, the fail point's error path (labels, block, close, error), hold an
//! awaitable hello, run the command, apply the fail point's `writeConcernError`, then
//! write the reply after any added latency and cut it if a reset fault says so. A frame
//! that cannot be read ends the connection; one that cannot be decoded gets an error
//! reply and then ends it, as mongod closes on malformed messages. Nothing here panics on
//! client input, and nothing here affects other connections.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bson::Document;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf,
};
use tokio::sync::watch;
use wire::{Header, Message, MsgFlags, OpCode, OpMsg, OpReply, WireError};

use crate::commands::{self, await_time, namespace_of, record_metadata, Client, Kind};
use crate::error::{code, CommandError};
use crate::failpoint::{BlockRelease, ErrorPath, Target};
use crate::judge::JudgedConnection;
use crate::locks::lock;
use crate::server::Server;

mod finish;
mod waits;

use waits::{hung_up, restarted};

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// The client closed the stream between messages.
    ClientClosed,
    /// The `refuse_connections` fault closed it at once.
    Refused,
    /// It would have exceeded `max_incoming_connections`.
    OverLimit,
    /// The client sent a frame that could not be read or decoded.
    ProtocolError(String),
    /// A `failCommand` fail point with `closeConnection` closed it.
    FailPointClosed,
    /// A reset fault (`reset_after_bytes`, `reset_mid_reply`) cut it.
    FaultReset,
    /// The server restarted (or is shutting down).
    Restarted,
    /// The stream failed.
    Io(String),
}

/// Serves one client connection until it ends, and says why it ended.
///
/// Applies the accept-level faults first (refuse, accept delay, connection limit), then
/// answers requests: OP_MSG with OP_MSG (none for `moreToCome`), the legacy OP_QUERY
/// hello/isMaster with OP_REPLY. `peer` names the client in logs and `whatsmyuri`.
///
/// # Cancel safety
/// Dropping the future closes the connection; the counters stay exact.
pub async fn serve_connection<S>(
    server: Arc<Server>,
    stream: S,
    peer: impl fmt::Display,
) -> ConnectionEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let peer = peer.to_string();
    let mut restarts = server.restart_signal();
    restarts.mark_unchanged();
    let faults = server.faults();
    if faults.refuse_connections {
        server.counters.reject();
        tracing::debug!(%peer, "refused (refuse_connections fault)");
        return ConnectionEnd::Refused;
    }
    if !faults.accept_delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(faults.accept_delay) => {}
            () = restarted(&mut restarts) => return ConnectionEnd::Restarted,
        }
    }
    let Some(_established) = server
        .counters
        .admit(server.faults().max_incoming_connections)
    else {
        tracing::info!(%peer, "connection refused because too many open connections");
        return ConnectionEnd::OverLimit;
    };
    let client = Client {
        id: server.next_connection_id(),
        peer,
        ..Client::default()
    };
    tracing::debug!(id = client.id, peer = %client.peer, "connection accepted");
    let judged = server
        .judge()
        .and_then(|judge| judge.accept(client.id, &client.peer));
    let (reader, writer) = tokio::io::split(stream);
    let mut connection = Connection {
        server,
        client,
        reader: BufReader::new(reader),
        writer,
        restarts,
        bytes_written: 0,
        next_request_id: 1,
        frame_buf: Vec::new(),
        reply_buf: Vec::new(),
        judged,
    };
    let end = connection.serve().await;
    tracing::debug!(id = connection.client.id, ?end, "connection ended");
    end
}

/// The state of one served connection.
struct Connection<S> {
    server: Arc<Server>,
    client: Client,
    reader: BufReader<ReadHalf<S>>,
    writer: WriteHalf<S>,
    restarts: watch::Receiver<u64>,
    /// Bytes written so far, for the `reset_after_bytes` fault.
    bytes_written: u64,
    next_request_id: i32,
    /// The bytes of the request being handled (scratch, reused for every request).
    frame_buf: Vec<u8>,
    /// The encoding of the reply being sent (scratch, reused for every reply).
    reply_buf: Vec<u8>,
    /// The pool checker's view of this connection (`None` with the judge off).
    judged: Option<JudgedConnection>,
}

/// The largest scratch buffer a connection keeps between messages; one grown past it for
/// a larger message is freed once that message is done.
const RETAINED_BUFFER_MAX: usize = 64 * 1024;

/// What running one request asks the loop to do.
enum Outcome {
    /// Send this reply document.
    Reply(Document),
    /// Send nothing (black hole).
    Swallow,
    /// End the connection without a reply.
    Close(ConnectionEnd),
}

/// How to answer one request.
#[derive(Clone, Copy)]
struct Reply {
    response_to: i32,
    framing: Framing,
    /// The request had `moreToCome`: no reply is sent.
    silent: bool,
    /// A control command (exempt from reply faults).
    control: bool,
}

/// How a reply is framed: as the request was.
#[derive(Clone, Copy)]
enum Framing {
    Msg,
    Reply,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn serve(&mut self) -> ConnectionEnd {
        let max = self.server.options().max_message_size;
        loop {
            // The buffer is taken out while `handle_frame` borrows the connection.
            let mut frame = std::mem::take(&mut self.frame_buf);
            let read = tokio::select! {
                biased;
                () = restarted(&mut self.restarts) => return ConnectionEnd::Restarted,
                read = wire::read_frame_into(&mut self.reader, max, &mut frame) => read,
            };
            match read {
                Ok(()) => {}
                Err(WireError::ConnectionClosed) => return ConnectionEnd::ClientClosed,
                Err(WireError::Io(err)) => return ConnectionEnd::Io(err.to_string()),
                Err(err) => {
                    tracing::warn!(id = self.client.id, %err, "unreadable frame; closing the connection");
                    return ConnectionEnd::ProtocolError(err.to_string());
                }
            }
            let handled = self.handle_frame(&frame, max).await;
            if frame.capacity() <= RETAINED_BUFFER_MAX {
                self.frame_buf = frame;
            }
            if let Err(end) = handled {
                return end;
            }
        }
    }

    /// Decodes and answers one frame. `Err` ends the connection.
    async fn handle_frame(&mut self, frame: &[u8], max: usize) -> Result<(), ConnectionEnd> {
        // read_frame returned at least the 16 header bytes.
        let header =
            Header::decode(frame).map_err(|e| ConnectionEnd::ProtocolError(e.to_string()))?;
        let message = match Message::decode(frame, max) {
            Ok((_, message)) => message,
            Err(err) => return Err(self.reject_malformed(&header, &err).await),
        };
        match message {
            Message::Msg(msg) => {
                let silent = msg.flags.contains(MsgFlags::MORE_TO_COME);
                let (outcome, control, hello) = match msg.into_command() {
                    Ok(body) => {
                        let hello = self.judge_request(&body, silent);
                        let (outcome, control) = self.execute(body, None).await;
                        self.judge_reply(hello && !silent, &outcome);
                        (outcome, control, hello)
                    }
                    Err(err) => (Outcome::Reply(parse_error(&err).to_document()), false, true),
                };
                let reply = Reply {
                    response_to: header.request_id,
                    framing: Framing::Msg,
                    silent,
                    control,
                };
                self.finish_judged(outcome, reply, hello).await
            }
            Message::Query(query) => {
                let command = query.command().clone();
                let name = command.keys().next().cloned().unwrap_or_default();
                let is_hello = matches!(Kind::from_name(&name), Some(Kind::Hello));
                let (outcome, control) =
                    if is_hello && query.full_collection_name.ends_with(".$cmd") {
                        let hello = self.judge_request(&command, false);
                        let db = query.database().to_string();
                        let executed = self.execute(command, Some(db)).await;
                        self.judge_reply(hello, &executed.0);
                        executed
                    } else {
                        (
                            Outcome::Reply(unsupported_op_query(&name).to_document()),
                            false,
                        )
                    };
                let reply = Reply {
                    response_to: header.request_id,
                    framing: Framing::Reply,
                    silent: false,
                    control,
                };
                self.finish_judged(outcome, reply, true).await
            }
            Message::Reply(_) => {
                let err = WireError::UnknownOpCode(OpCode::Reply.raw());
                Err(self.reject_malformed(&header, &err).await)
            }
        }
    }

    /// Runs one command with fail points and faults. The flag says whether it was a
    /// control command (exempt from reply faults).
    async fn execute(&mut self, body: Document, legacy_db: Option<String>) -> (Outcome, bool) {
        let name = body.keys().next().cloned().unwrap_or_default();
        let db = match legacy_db.or_else(|| body.get_str("$db").ok().map(str::to_string)) {
            Some(db) => db,
            None => {
                let err =
                    CommandError::new(code::MISSING_DB, "OP_MSG requests require a $db argument");
                return (Outcome::Reply(err.to_document()), false);
            }
        };
        if let Some(judge) = self.server.judge() {
            if let Some(reply) = judge.admin_command(&name, &db, &body) {
                return (Outcome::Reply(reply), true);
            }
        }
        let kind = Kind::from_name(&name);
        let control = kind.is_some_and(Kind::is_control);
        if self.server.faults().black_hole && !control {
            tracing::debug!(id = self.client.id, command = %name, "swallowed (black_hole fault)");
            return (Outcome::Swallow, false);
        }
        let Some(kind) = kind else {
            // Unknown commands never reach the fail point, as in mongod.
            return (Outcome::Reply(self.run(&name, &db, &body)), false);
        };
        (self.execute_known(kind, &name, &db, &body).await, control)
    }

    async fn execute_known(
        &mut self,
        kind: Kind,
        name: &str,
        db: &str,
        body: &Document,
    ) -> Outcome {
        if kind == Kind::Hello {
            if let Err(err) = record_metadata(&mut self.client, body) {
                return Outcome::Reply(err.to_document());
            }
        }
        let namespace = namespace_of(body, db);
        let app_name = self.client.app_name.clone();
        let target = Target {
            names: kind.names(),
            app_name: app_name.as_deref(),
            namespace: &namespace,
            is_write: kind.is_write(),
        };
        let path = lock(&self.server.fail_command).evaluate_error_path(&target);
        let labels = path.as_ref().and_then(|p| p.labels.clone());
        if let Some(path) = path {
            if let Some(outcome) = self.take_error_path(path, name, labels.as_deref()).await {
                return outcome;
            }
        }
        if kind == Kind::Hello {
            match await_time(&self.server, body) {
                Err(err) => {
                    return Outcome::Reply(with_labels(err, labels.as_deref()).to_document())
                }
                Ok(Some(wait)) => {
                    if let Some(end) = self.hold(wait).await {
                        return Outcome::Close(end);
                    }
                }
                Ok(None) => {}
            }
        }
        if kind == Kind::Sleep {
            if let Ok(wait) = commands::sleep_millis(body) {
                if let Some(end) = self.sleep(wait).await {
                    return Outcome::Close(end);
                }
            }
        }
        let _active = self.server.counters.active();
        let mut reply = match commands::run(&self.server, &self.client, name, db, body) {
            Ok(reply) => reply,
            Err(err) => return Outcome::Reply(with_labels(err, labels.as_deref()).to_document()),
        };
        let write_concern = lock(&self.server.fail_command).evaluate_write_concern(&target);
        if let Some((wce, wce_labels)) = write_concern {
            reply.insert("writeConcernError", wce);
            if !wce_labels.is_empty() {
                reply.insert("errorLabels", wce_labels);
            }
        }
        Outcome::Reply(reply)
    }

    /// Carries out a fired fail point's error path in mongod's order: block, close, error.
    /// `None` means the command goes on to run (a block alone only delays it).
    async fn take_error_path(
        &mut self,
        path: ErrorPath,
        name: &str,
        labels: Option<&[String]>,
    ) -> Option<Outcome> {
        // The guard borrows this handle, not `self`, which the sleep needs mutably.
        let server = Arc::clone(&self.server);
        let _active = server.counters.active();
        match path.block {
            Some(Ok(duration)) => {
                tracing::info!(
                    id = self.client.id,
                    command = name,
                    ?duration,
                    "blocking command via 'failCommand' failpoint"
                );
                let release = self.server.block_release(duration);
                if let Some(end) = self.block(&release).await {
                    return Some(Outcome::Close(end));
                }
            }
            Some(Err(err)) => return Some(Outcome::Reply(with_labels(err, labels).to_document())),
            None => {}
        }
        if path.close {
            tracing::info!(
                id = self.client.id,
                command = name,
                "failing command via 'failCommand' failpoint: closing connection"
            );
            return Some(Outcome::Close(ConnectionEnd::FailPointClosed));
        }
        let err = path.error?;
        tracing::info!(
            id = self.client.id,
            command = name,
            code = err.code,
            "failing command via 'failCommand' failpoint"
        );
        Some(Outcome::Reply(err.to_document()))
    }

    fn run(&self, name: &str, db: &str, body: &Document) -> Document {
        let _active = self.server.counters.active();
        match commands::run(&self.server, &self.client, name, db, body) {
            Ok(reply) => reply,
            Err(err) => err.to_document(),
        }
    }

    /// Sleeps for a `sleep` command or the added latency; `Some` if a restart or the
    /// client's hang-up ended the connection meanwhile.
    async fn sleep(&mut self, duration: Duration) -> Option<ConnectionEnd> {
        tokio::select! {
            () = tokio::time::sleep(duration) => None,
            () = restarted(&mut self.restarts) => Some(ConnectionEnd::Restarted),
            end = hung_up(&mut self.reader) => Some(end),
        }
    }

    /// Sleeps until a fail point's block is released (which blocks that join it may push
    /// back); `Some` if a restart or the client's hang-up ended the connection meanwhile.
    ///
    /// It always ends with a timer set for the release's final instant, even when that
    /// instant has passed: the timer wheel fires every timer of one tick in one pass, so
    /// the blocks of a release wake together only if they all wait on the same instant.
    async fn block(&mut self, release: &BlockRelease) -> Option<ConnectionEnd> {
        loop {
            let until = release.until();
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = restarted(&mut self.restarts) => return Some(ConnectionEnd::Restarted),
                end = hung_up(&mut self.reader) => return Some(end),
            }
            if release.until() == until {
                return None;
            }
        }
    }

    /// Holds an awaitable hello for `wait`, watching the client: a hang-up ends the
    /// connection at once (as mongod's "kill on client disconnect" does), and a new request
    /// ends the wait early.
    async fn hold(&mut self, wait: Duration) -> Option<ConnectionEnd> {
        let server = Arc::clone(&self.server);
        let _awaiting = server.counters.awaiting();
        tokio::select! {
            () = tokio::time::sleep(wait) => None,
            () = restarted(&mut self.restarts) => Some(ConnectionEnd::Restarted),
            peeked = self.reader.fill_buf() => match peeked {
                Ok([]) => Some(ConnectionEnd::ClientClosed),
                Ok(_) => None,
                Err(err) => Some(ConnectionEnd::Io(err.to_string())),
            },
        }
    }

    /// Answers a malformed message with an error (framed as the request claimed to be),
    /// then ends the connection.
    async fn reject_malformed(&mut self, header: &Header, err: &WireError) -> ConnectionEnd {
        tracing::warn!(id = self.client.id, %err, "malformed message; answering with an error and closing the connection");
        let reply = CommandError::new(
            parse_error(err).code,
            format!("malformed message: {err}; closing the connection"),
        );
        let framing = if header.op_code == OpCode::Query.raw() {
            Framing::Reply
        } else {
            Framing::Msg
        };
        // The connection ends either way; a failed write changes nothing.
        let _ = self
            .send(reply.to_document(), header.request_id, framing, true)
            .await;
        ConnectionEnd::ProtocolError(err.to_string())
    }

    /// Encodes and writes a reply, applying the latency and reset faults unless `control`.
    async fn send(
        &mut self,
        reply: Document,
        response_to: i32,
        framing: Framing,
        control: bool,
    ) -> Result<(), ConnectionEnd> {
        let request_id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        let mut bytes = std::mem::take(&mut self.reply_buf);
        if let Err(err) = encode(&mut bytes, reply, request_id, response_to, framing) {
            let fallback = CommandError::new(10334, format!("reply cannot be encoded: {err}"));
            encode(
                &mut bytes,
                fallback.to_document(),
                request_id,
                response_to,
                framing,
            )
            .map_err(|e| ConnectionEnd::ProtocolError(e.to_string()))?;
        }
        let sent = self.send_bytes(&bytes, control).await;
        if bytes.capacity() <= RETAINED_BUFFER_MAX {
            self.reply_buf = bytes;
        }
        sent
    }

    /// Writes an encoded reply, applying the latency and reset faults unless `control`.
    async fn send_bytes(&mut self, bytes: &[u8], control: bool) -> Result<(), ConnectionEnd> {
        let mut cut = None;
        if !control {
            let faults = self.server.faults();
            if !faults.latency.is_zero() {
                if let Some(end) = self.sleep(faults.latency).await {
                    return Err(end);
                }
            }
            if self.server.take_mid_reply_cut() {
                cut = Some(bytes.len() / 2);
            } else if let Some(limit) = faults.reset_after_bytes {
                let room = limit.saturating_sub(self.bytes_written);
                if (bytes.len() as u64) > room {
                    cut = Some(usize::try_from(room).unwrap_or(usize::MAX));
                }
            }
        }
        let write_len = cut.unwrap_or(bytes.len()).min(bytes.len());
        let written = async {
            self.writer.write_all(&bytes[..write_len]).await?;
            self.writer.flush().await
        }
        .await;
        self.bytes_written += write_len as u64;
        if let Err(err) = written {
            return Err(ConnectionEnd::Io(err.to_string()));
        }
        if cut.is_some() {
            tracing::info!(
                id = self.client.id,
                written = write_len,
                of = bytes.len(),
                "reply cut (reset fault); closing the connection"
            );
            // Shut the write side so the client sees the cut at once.
            let _ = self.writer.shutdown().await;
            return Err(ConnectionEnd::FaultReset);
        }
        Ok(())
    }
}

/// Encodes a reply into `buf`, replacing what it held.
fn encode(
    buf: &mut Vec<u8>,
    reply: Document,
    request_id: i32,
    response_to: i32,
    framing: Framing,
) -> Result<(), WireError> {
    let message = match framing {
        Framing::Msg => Message::Msg(OpMsg::command(reply)),
        Framing::Reply => Message::Reply(OpReply::command_reply(reply)),
    };
    buf.clear();
    message.encode_into(buf, request_id, response_to)
}

/// The error for a message that framed correctly but did not decode.
fn parse_error(err: &WireError) -> CommandError {
    let code = match err {
        WireError::BadBson(_) => code::INVALID_BSON,
        WireError::BadFlags(_) => code::ILLEGAL_OP_MSG_FLAG,
        _ => code::PROTOCOL_ERROR,
    };
    CommandError::new(code, err.to_string())
}

fn unsupported_op_query(name: &str) -> CommandError {
    CommandError::new(
        code::UNSUPPORTED_OP_QUERY_COMMAND,
        format!("Unsupported OP_QUERY command: {name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"),
    )
}

/// Applies a fail point's `errorLabels` override to an error of the affected command.
fn with_labels(mut err: CommandError, labels: Option<&[String]>) -> CommandError {
    if let Some(labels) = labels {
        err.labels = labels.to_vec();
    }
    err
}
