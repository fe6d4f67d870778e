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
    let mut prefix = [0u8; 4];
    let got = read_full(r, &mut prefix).await?;
    match got {
        0 => return Err(WireError::ConnectionClosed),
        4 => {}
        _ => return Err(WireError::Truncated { expected: 4, got }),
    }
    let length = header::check_length(i32::from_le_bytes(prefix), max_message_size)?;
    let mut frame = Vec::with_capacity(length.min(INITIAL_READ_CAPACITY));
    frame.extend_from_slice(&prefix);
    // `length >= 16` was checked, so the subtraction cannot underflow.
    let rest = (length - prefix.len()) as u64;
    (&mut *r).take(rest).read_to_end(&mut frame).await?;
    if frame.len() < length {
        return Err(WireError::Truncated {
            expected: length,
            got: frame.len(),
        });
    }
    debug_assert_eq!(frame.len(), length, "take() stops at the declared length");
    Ok(frame)
}

/// Encodes and writes one message, then flushes.
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
    let bytes = message.try_encode(request_id, response_to)?;
    w.write_all(&bytes).await?;
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
