//! # wire: the MongoDB wire protocol for poolcheck
//!
//! Message encoding and decoding shared by poolcheck's client and its mock server, plus
//! a small client whose [`WireManager`] plugs into pool-core's [`Pool`](pool_core::Pool).
//! It knows nothing else of pools.
//!
//! Supported: OP_MSG (opcode 2013) with body and document-sequence sections, `moreToCome`
//! / `exhaustAllowed` flags and CRC-32C checksums; the legacy OP_QUERY (2004) / OP_REPLY
//! (1) pair, as far as the Node driver's first `isMaster` needs. OP_COMPRESSED (2012) is
//! recognised only to be refused ([`WireError::CompressionUnsupported`]). Out of scope:
//! compression, authentication, TLS, and the other legacy opcodes.
//!
//! Every malformed input decodes to a typed [`WireError`], never a panic, and no
//! allocation is sized by a length before it is checked against the bytes at hand and
//! [`limits`].
//!
//! ## Map
//! - [`message`]: [`Message`] and its parts ([`Header`], [`OpMsg`], [`OpQuery`],
//!   [`OpReply`]); `Message::encode` / `Message::decode`. Start here.
//! - [`framing`]: [`read_message`] / [`write_message`] on any Tokio stream.
//! - [`client`]: [`Connection`] (handshake, `run_command`) and [`WireManager`].
//! - [`error`]: [`WireError`] and [`ClientError`].
//! - [`checksum`]: the CRC-32C of OP_MSG checksums.
//! - [`limits`]: every bound ([`DEFAULT_MAX_MESSAGE_SIZE`], BSON depth, ...).
//!
//! ## Example
//! ```
//! use bson::doc;
//! use wire::{Message, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};
//!
//! let ping = Message::Msg(OpMsg::command(doc! { "ping": 1, "$db": "admin" }));
//! let bytes = ping.encode(1, 0);
//! let (header, decoded) = Message::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE).unwrap();
//! assert_eq!(header.request_id, 1);
//! assert_eq!(decoded, ping);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod checksum;
pub mod client;
mod codec;
mod document;
pub mod error;
pub mod framing;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod message;

pub use client::{ClientError, Connection, HelloReply, TcpConnection, WireConfig, WireManager};
pub use error::WireError;
pub use framing::{read_frame, read_frame_into, read_message, write_message, write_message_with};
pub use limits::DEFAULT_MAX_MESSAGE_SIZE;
pub use message::{Header, Message, MsgFlags, OpCode, OpMsg, OpQuery, OpReply, Section};
