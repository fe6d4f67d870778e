//! [`AdapterError`]: why an adapter could not be built.

/// Why an adapter (or one of the kit's parts) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The seed's options are invalid (`PoolOptions::validate` refused them).
    #[error("invalid pool options: {0}")]
    Options(String),
    /// The Tokio runtime of a [`TokioBridge`](super::TokioBridge) could not be built.
    #[error("tokio bridge: {0}")]
    Runtime(String),
    /// The pool's own builder refused its settings.
    #[error("pool build failed: {0}")]
    Build(String),
}
