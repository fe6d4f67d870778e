//! Reading and writing whole messages on an async byte stream.
//!
//! Generic over Tokio's [`AsyncRead`] / [`AsyncWrite`], so the same code runs on a TCP
//! socket, an in-memory [`tokio::io::duplex`] pipe, or a simulated network stream.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::WireError;
pub use crate::limits::DEFAULT_MAX_MESSAGE_SIZE;
use crate::limits::INITIAL_READ_CAPACITY;
use crate::message::{header, Header, Message};

/// Reads and decodes one message.
///
/// The 4-byte `messageLength` is read and checked (at least 16, at most
/// `max_message_size`) before anything else; the buffer then grows only as bytes arrive.
///
/// # Errors
/// [`WireError::ConnectionClosed`] if the stream ends cleanly before the message starts,
/// [`WireError::Truncated`] if it ends inside one, [`WireError::Io`] on a stream error,
/// and any decoding error of [`Message::decode`].
///
/// # Cancel safety
/// Not cancel safe: if the future is dropped part-way, the bytes read so far are lost and
/// the stream is out of step. Drop the connection in that case.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    max_message_size: usize,
) -> Result<(Header, Message), WireError> {
    let frame = read_frame(r, max_message_size).await?;
    Message::decode(&frame, max_message_size)
}

/// Reads the raw bytes of one message (header included) without decoding its body.
///
/// # Errors
/// As [`read_message`], less the body's decoding errors.
///
/// # Cancel safety
/// Not cancel safe, as [`read_message`].
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_message_size: usize,
) -> Result<Vec<u8>, WireError> {
    let mut frame = Vec::new();
    read_frame_into(r, max_message_size, &mut frame).await?;
    Ok(frame)
}

/// Reads the raw bytes of one message (header included) into `frame`, replacing what it
/// held: [`read_frame`] into a buffer the caller keeps, so that a connection reading
/// message after message reuses one allocation.
///
/// The length is checked before anything else, and `frame` grows only as bytes arrive
/// (at most 64 KiB ahead of them), whatever the header announces.
///
/// # Errors
/// As [`read_frame`]. On an error `frame` holds whatever was read.
///
/// # Cancel safety
/// Not cancel safe, as [`read_message`].
pub async fn read_frame_into<R: AsyncRead + Unpin>(
    r: &mut R,
    max_message_size: usize,
    frame: &mut Vec<u8>,
) -> Result<(), WireError> {
    frame.clear();
    let mut prefix = [0u8; 4];
    let got = read_full(r, &mut prefix).await?;
    match got {
        0 => return Err(WireError::ConnectionClosed),
        4 => {}
        _ => return Err(WireError::Truncated { expected: 4, got }),
    }
    let length = header::check_length(i32::from_le_bytes(prefix), max_message_size)?;
    frame.extend_from_slice(&prefix);
    while frame.len() < length {
        // Room for the rest, but never more than one step ahead of the bytes received.
        let filled = frame.len();
        let step = (length - filled).min(INITIAL_READ_CAPACITY);
        frame.resize(filled + step, 0);
        let n = match r.read(&mut frame[filled..]).await {
            Ok(n) => n,
            Err(err) => {
                frame.truncate(filled);
                return Err(err.into());
            }
        };
        frame.truncate(filled + n);
        if n == 0 {
            return Err(WireError::Truncated {
                expected: length,
                got: filled,
            });
        }
    }
    debug_assert_eq!(frame.len(), length, "reads stop at the declared length");
    Ok(())
}

/// Encodes and writes one message, then flushes.
///
/// The message is encoded into one buffer and written whole: one write call on a socket
/// for a message that fits its send buffer.
///
/// # Errors
/// [`WireError::Io`] on a stream error; encoding errors as [`Message::try_encode`].
///
/// # Cancel safety
/// Not cancel safe: a dropped future may have written part of the message.
pub async fn write_message<W: AsyncWrite + Unpin>(
    w: &mut W,
    message: &Message,
    request_id: i32,
    response_to: i32,
) -> Result<(), WireError> {
    write_message_with(w, message, request_id, response_to, &mut Vec::new()).await
}

/// [`write_message`], encoding into `buf` (cleared first), a buffer the caller keeps so
/// that a connection writing message after message reuses one allocation.
///
/// # Errors
/// As [`write_message`].
///
/// # Cancel safety
/// Not cancel safe, as [`write_message`].
pub async fn write_message_with<W: AsyncWrite + Unpin>(
    w: &mut W,
    message: &Message,
    request_id: i32,
    response_to: i32,
    buf: &mut Vec<u8>,
) -> Result<(), WireError> {
    buf.clear();
    message.encode_into(buf, request_id, response_to)?;
    w.write_all(buf).await?;
    w.flush().await?;
    Ok(())
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<usize, WireError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use tokio::io::{duplex, AsyncWriteExt};

    use super::*;
    use crate::message::OpMsg;

    fn ping() -> Message {
        Message::Msg(OpMsg::command(doc! { "ping": 1, "$db": "admin" }))
    }

    #[tokio::test]
    async fn messages_cross_a_duplex_pipe() {
        // A pipe smaller than one message forces partial reads and writes.
        let (mut client, mut server) = duplex(7);
        let writer = tokio::spawn(async move {
            for id in 1..=3 {
                write_message(&mut client, &ping(), id, 0).await.unwrap();
            }
        });
        for id in 1..=3 {
            let (header, message) = read_message(&mut server, DEFAULT_MAX_MESSAGE_SIZE)
                .await
                .unwrap();
            assert_eq!(header.request_id, id);
            assert_eq!(message, ping());
        }
        writer.await.unwrap();
        let end = read_message(&mut server, DEFAULT_MAX_MESSAGE_SIZE).await;
        assert!(
            matches!(end, Err(WireError::ConnectionClosed)),
            "clean close between messages"
        );
    }

    #[tokio::test]
    async fn frames_reuse_one_buffer() {
        // Messages of different sizes, read one after the other into the same buffer and
        // written from the same buffer: each read replaces the previous frame whole.
        let big = Message::Msg(OpMsg::command(
            doc! { "insert": "c", "blob": "x".repeat(100_000), "$db": "db" },
        ));
        let (mut client, mut server) = duplex(1024);
        let messages = [ping(), big.clone(), ping()];
        let sent = messages.clone();
        let writer = tokio::spawn(async move {
            let mut buf = Vec::new();
            for (id, message) in (1..).zip(&sent) {
                write_message_with(&mut client, message, id, 0, &mut buf)
                    .await
                    .unwrap();
                assert_eq!(buf, message.encode(id, 0), "buf holds the last message");
            }
        });
        let mut frame = vec![0xEE; 3];
        for (id, message) in (1..).zip(&messages) {
            read_frame_into(&mut server, DEFAULT_MAX_MESSAGE_SIZE, &mut frame)
                .await
                .unwrap();
            assert_eq!(frame, message.encode(id, 0));
        }
        writer.await.unwrap();
        let end = read_frame_into(&mut server, DEFAULT_MAX_MESSAGE_SIZE, &mut frame).await;
        assert!(matches!(end, Err(WireError::ConnectionClosed)));
    }

    #[tokio::test]
    async fn a_stream_that_ends_early_is_truncated() {
        let bytes = ping().encode(1, 0);
        // Ends inside the body.
        let mut reader = &bytes[..bytes.len() - 3];
        let err = read_message(&mut reader, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(
            matches!(err, WireError::Truncated { expected, got } if expected == bytes.len() && got == expected - 3),
            "{err}"
        );
        // Ends inside the length prefix.
        let mut reader = &bytes[..2];
        let err = read_message(&mut reader, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                WireError::Truncated {
                    expected: 4,
                    got: 2
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_length_is_checked_before_the_body_is_read() {
        // Only the length prefix is ever sent: the reader must answer from it alone, not
        // wait for (or allocate) the announced body.
        let (mut tx, mut rx) = duplex(64);
        tx.write_all(&100_000_000_i32.to_le_bytes()).await.unwrap();
        let err = read_message(&mut rx, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                WireError::Oversized {
                    length: 100_000_000,
                    ..
                }
            ),
            "{err}"
        );
        tx.write_all(&(-1_i32).to_le_bytes()).await.unwrap();
        let err = read_message(&mut rx, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::NegativeLength), "{err}");
        tx.write_all(&3_i32.to_le_bytes()).await.unwrap();
        let err = read_message(&mut rx, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::Undersized(3)), "{err}");
    }

    #[tokio::test]
    async fn io_errors_surface_as_io() {
        let mut reader = tokio_test_reader::Failing;
        let err = read_message(&mut reader, DEFAULT_MAX_MESSAGE_SIZE)
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::Io(_)), "{err}");
    }

    mod tokio_test_reader {
        use std::pin::Pin;
        use std::task::{Context, Poll};

        use tokio::io::{AsyncRead, ReadBuf};

        /// A reader whose every read fails.
        pub(super) struct Failing;

        impl AsyncRead for Failing {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset",
                )))
            }
        }
    }
}
