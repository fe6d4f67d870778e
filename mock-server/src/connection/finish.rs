//! Finishing a request (sending its outcome) and the judge's hooks in the request loop:
//! each decoded request, each hello reply, and (with WIRE-STALE on) each sent reply and
//! each error that makes a driver clear its pool.

use bson::Document;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Connection, ConnectionEnd, Outcome, Reply};
use crate::judge::{clearing_code, Announced, ClearCause, JudgedConnection};

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Sends the outcome (unless the request had `moreToCome`).
    async fn finish(&mut self, outcome: Outcome, reply: Reply) -> Result<(), ConnectionEnd> {
        match outcome {
            Outcome::Close(end) => Err(end),
            Outcome::Swallow => Ok(()),
            Outcome::Reply(_) if reply.silent => Ok(()),
            Outcome::Reply(document) => {
                self.send(document, reply.response_to, reply.framing, reply.control)
                    .await
            }
        }
    }

    /// Tells the judge (if on) of a decoded request; whether it is a hello.
    pub(super) fn judge_request(&self, body: &Document, silent: bool) -> bool {
        let buffered = !self.reader.buffer().is_empty();
        self.judged
            .as_ref()
            .is_some_and(|judged| judged.request(body, silent, buffered))
    }

    /// A hello reply is about to be written: for the judge, it ends the handshake (recorded
    /// before the write, so the interval ends no later than the client sees the reply).
    pub(super) fn judge_reply(&self, hello: bool, outcome: &Outcome) {
        if let (true, Outcome::Reply(_), Some(judged)) = (hello, outcome, &self.judged) {
            judged.hello_replied();
        }
    }

    /// [`Self::finish`], then, with WIRE-STALE on, tells the judge that the reply was sent
    /// and whether the server caused an error that makes a driver clear its pool: a
    /// network error it caused or a state-change error reply, on a request that expects a
    /// reply and is not a hello (see `judge/stale.rs`).
    pub(super) async fn finish_judged(
        &mut self,
        outcome: Outcome,
        reply: Reply,
        hello: bool,
    ) -> Result<(), ConnectionEnd> {
        if !self.judged.as_ref().is_some_and(JudgedConnection::stale_on) {
            return self.finish(outcome, reply).await;
        }
        let counted = !hello && !reply.silent;
        let code = match &outcome {
            Outcome::Reply(document) if counted => {
                clearing_code(document, &announced(&self.server))
            }
            _ => None,
        };
        let answered = matches!(outcome, Outcome::Reply(_)) && !reply.silent;
        let result = self.finish(outcome, reply).await;
        let cause = match &result {
            Ok(()) => code.map(ClearCause::Code),
            Err(end) if counted => clear_cause(end),
            Err(_) => None,
        };
        if let Some(judged) = &self.judged {
            if answered && result.is_ok() {
                judged.replied();
            }
            if let Some(cause) = cause {
                judged.cleared(cause);
            }
        }
        result
    }
}

/// What the server announces in hello, for [`clearing_code`].
fn announced(server: &crate::server::Server) -> Announced {
    let options = server.options();
    Announced {
        max_wire_version: options.max_wire_version,
        topology_version: options.topology_version,
        process_id: server.process_id(),
    }
}

/// The clearing network error behind a connection's end, if the server caused it.
fn clear_cause(end: &ConnectionEnd) -> Option<ClearCause> {
    match end {
        ConnectionEnd::FailPointClosed => Some(ClearCause::FailPointClosed),
        ConnectionEnd::FaultReset => Some(ClearCause::FaultReset),
        ConnectionEnd::Restarted => Some(ClearCause::Restarted),
        _ => None,
    }
}
