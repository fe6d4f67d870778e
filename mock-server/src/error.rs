//! The error types: a command's `{ok: 0}` reply ([`CommandError`]) and the errors of
//! starting and running the server ([`ServeError`]).

use std::borrow::Cow;
use std::io;

use bson::{doc, Bson, Document};

/// A command that failed: becomes `{ok: 0, errmsg, code, codeName}` on the wire.
///
/// This is an *answer*, not a fault of the server: every path a client can reach reports
/// its problem this way instead of panicking.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code_name} ({code}): {errmsg}")]
#[non_exhaustive]
pub struct CommandError {
    /// mongod's numeric error code.
    pub code: i32,
    /// mongod's name for `code` (`Location<N>` for codes without a name).
    pub code_name: Cow<'static, str>,
    /// The human-readable message.
    pub errmsg: String,
    /// `errorLabels` to attach (empty: none).
    pub labels: Vec<String>,
    /// Extra fields appended to the reply (failCommand's `errorExtraInfo`). Boxed to keep
    /// `Result<_, CommandError>` small.
    pub extra: Option<Box<Document>>,
}

impl CommandError {
    /// An error with the given code; the code name is looked up with [`code_name`].
    pub fn new(code: i32, errmsg: impl Into<String>) -> Self {
        Self {
            code,
            code_name: code_name(code),
            errmsg: errmsg.into(),
            labels: Vec::new(),
            extra: None,
        }
    }

    /// `BadValue` (2).
    pub fn bad_value(errmsg: impl Into<String>) -> Self {
        Self::new(code::BAD_VALUE, errmsg)
    }

    /// `FailedToParse` (9).
    pub fn failed_to_parse(errmsg: impl Into<String>) -> Self {
        Self::new(code::FAILED_TO_PARSE, errmsg)
    }

    /// `TypeMismatch` (14).
    pub fn type_mismatch(errmsg: impl Into<String>) -> Self {
        Self::new(code::TYPE_MISMATCH, errmsg)
    }

    /// `InvalidOptions` (72).
    pub fn invalid_options(errmsg: impl Into<String>) -> Self {
        Self::new(code::INVALID_OPTIONS, errmsg)
    }

    /// The error reply document, as mongod shapes it.
    pub fn to_document(&self) -> Document {
        let mut reply = doc! {
            "ok": 0.0,
            "errmsg": self.errmsg.as_str(),
            "code": self.code,
            "codeName": self.code_name.as_ref(),
        };
        for (k, v) in self.extra.iter().flat_map(|extra| extra.iter()) {
            if !reply.contains_key(k) {
                reply.insert(k.clone(), v.clone());
            }
        }
        if !self.labels.is_empty() {
            let labels: Vec<Bson> = self
                .labels
                .iter()
                .map(|l| Bson::String(l.clone()))
                .collect();
            reply.insert("errorLabels", labels);
        }
        reply
    }
}

/// Starting or running the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why binding failed.
        #[source]
        source: io::Error,
    },
    /// The logging subscriber could not be installed.
    #[error("cannot install the log subscriber: {0}")]
    Logging(String),
    /// The judge's verdict file could not be written.
    #[error("cannot write the verdict to {}", path.display())]
    VerdictFile {
        /// The file asked for.
        path: std::path::PathBuf,
        /// Why writing failed.
        source: std::io::Error,
    },
}

/// mongod's error codes used by the mock (`src/mongo/base/error_codes.yml`).
pub mod code {
    /// InternalError.
    pub const INTERNAL_ERROR: i32 = 1;
    /// BadValue.
    pub const BAD_VALUE: i32 = 2;
    /// FailedToParse.
    pub const FAILED_TO_PARSE: i32 = 9;
    /// TypeMismatch.
    pub const TYPE_MISMATCH: i32 = 14;
    /// IllegalOperation.
    pub const ILLEGAL_OPERATION: i32 = 20;
    /// NamespaceNotFound.
    pub const NAMESPACE_NOT_FOUND: i32 = 26;
    /// CursorNotFound.
    pub const CURSOR_NOT_FOUND: i32 = 43;
    /// NamespaceExists.
    pub const NAMESPACE_EXISTS: i32 = 48;
    /// CommandNotFound.
    pub const COMMAND_NOT_FOUND: i32 = 59;
    /// ImmutableField.
    pub const IMMUTABLE_FIELD: i32 = 66;
    /// InvalidOptions.
    pub const INVALID_OPTIONS: i32 = 72;
    /// InvalidNamespace.
    pub const INVALID_NAMESPACE: i32 = 73;
    /// OperationFailed.
    pub const OPERATION_FAILED: i32 = 96;
    /// ExceededMemoryLimit.
    pub const EXCEEDED_MEMORY_LIMIT: i32 = 146;
    /// ClientMetadataCannotBeMutated.
    pub const CLIENT_METADATA_CANNOT_BE_MUTATED: i32 = 186;
    /// UnsupportedOpQueryCommand.
    pub const UNSUPPORTED_OP_QUERY_COMMAND: i32 = 352;
    /// DuplicateKey.
    pub const DUPLICATE_KEY: i32 = 11000;
    /// Location40324: an unknown aggregation stage.
    pub const UNRECOGNIZED_STAGE: i32 = 40324;
    /// Location40571: an OP_MSG without `$db`.
    pub const MISSING_DB: i32 = 40571;
    /// FailPointSetFailed.
    pub const FAIL_POINT_SET_FAILED: i32 = 266;
    /// InvalidLength.
    pub const INVALID_LENGTH: i32 = 16;
    /// ProtocolError.
    pub const PROTOCOL_ERROR: i32 = 17;
    /// InvalidBSON.
    pub const INVALID_BSON: i32 = 22;
    /// IllegalOpMsgFlag.
    pub const ILLEGAL_OP_MSG_FLAG: i32 = 223;
    /// Unauthorized.
    pub const UNAUTHORIZED: i32 = 13;
}

/// mongod's `codeName` for `code`; `Location<N>` for codes without a name, as mongod does.
pub fn code_name(code: i32) -> Cow<'static, str> {
    let name = match code {
        1 => "InternalError",
        2 => "BadValue",
        6 => "HostUnreachable",
        7 => "HostNotFound",
        8 => "UnknownError",
        9 => "FailedToParse",
        11 => "UserNotFound",
        13 => "Unauthorized",
        14 => "TypeMismatch",
        16 => "InvalidLength",
        17 => "ProtocolError",
        18 => "AuthenticationFailed",
        22 => "InvalidBSON",
        20 => "IllegalOperation",
        24 => "LockTimeout",
        26 => "NamespaceNotFound",
        43 => "CursorNotFound",
        48 => "NamespaceExists",
        50 => "MaxTimeMSExpired",
        59 => "CommandNotFound",
        64 => "WriteConcernFailed",
        66 => "ImmutableField",
        72 => "InvalidOptions",
        73 => "InvalidNamespace",
        79 => "UnknownReplWriteConcern",
        89 => "NetworkTimeout",
        91 => "ShutdownInProgress",
        96 => "OperationFailed",
        100 => "CannotSatisfyWriteConcern",
        112 => "WriteConflict",
        117 => "ConflictingOperationInProgress",
        134 => "ReadConcernMajorityNotAvailableYet",
        146 => "ExceededMemoryLimit",
        175 => "QueryPlanKilled",
        186 => "ClientMetadataCannotBeMutated",
        189 => "PrimarySteppedDown",
        223 => "IllegalOpMsgFlag",
        251 => "NoSuchTransaction",
        262 => "ExceededTimeLimit",
        352 => "UnsupportedOpQueryCommand",
        9001 => "SocketException",
        10107 => "NotWritablePrimary",
        11000 => "DuplicateKey",
        11600 => "InterruptedAtShutdown",
        11601 => "Interrupted",
        11602 => "InterruptedDueToReplStateChange",
        13388 => "StaleConfig",
        13435 => "NotPrimaryNoSecondaryOk",
        13436 => "NotPrimaryOrSecondary",
        266 => "FailPointSetFailed",
        _ => return Cow::Owned(format!("Location{code}")),
    };
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_has_mongod_shape() {
        let mut err = CommandError::new(91, "shutting down");
        err.labels.push("RetryableWriteError".into());
        let d = err.to_document();
        assert_eq!(d.get_f64("ok"), Ok(0.0));
        assert_eq!(d.get_i32("code"), Ok(91));
        assert_eq!(d.get_str("codeName"), Ok("ShutdownInProgress"));
        assert_eq!(d.get_array("errorLabels").map(Vec::len), Ok(1));
    }

    #[test]
    fn unnamed_codes_are_locations() {
        assert_eq!(code_name(4242), "Location4242");
        assert_eq!(code_name(code::UNRECOGNIZED_STAGE), "Location40324");
    }
}
