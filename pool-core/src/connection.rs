//! The checked-out connection guard.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::engine::{Engine, Entry};
use crate::event::ConnectionId;
use crate::leak::LeakWatch;
use crate::manager::Manager;
use crate::sync::Backend;

/// A checked-out connection. Dereferences to the manager's connection; checks itself in
/// when dropped.
pub struct PooledConnection<M: Manager, B: Backend = crate::sync::StdBackend> {
    pub(crate) engine: Arc<Engine<M, B>>,
    /// `Some` until dropped.
    entry: Option<Entry<M::Connection>>,
    errored: bool,
    /// The leak watch of this checkout (`leak_detection_threshold` on).
    leak: Option<Arc<LeakWatch>>,
}

impl<M: Manager, B: Backend> PooledConnection<M, B> {
    pub(crate) fn new(engine: Arc<Engine<M, B>>, entry: Entry<M::Connection>) -> Self {
        let leak = engine
            .options
            .leak_detection_threshold
            .map(|threshold| LeakWatch::start(&engine, entry.id, threshold));
        PooledConnection {
            engine,
            entry: Some(entry),
            errored: false,
            leak,
        }
    }

    fn entry(&self) -> &Entry<M::Connection> {
        // The entry is taken only in `drop`, so it is present whenever `&self` exists.
        self.entry.as_ref().expect("entry present until drop")
    }

    /// The connection's id in its pool.
    pub fn id(&self) -> ConnectionId {
        self.entry().id
    }

    /// The pool generation the connection belongs to.
    pub fn generation(&self) -> u64 {
        self.entry().generation
    }

    /// Marks the connection errored: it is closed (reason `error`) at check-in.
    pub fn mark_errored(&mut self) {
        self.errored = true;
    }

    /// True if a clear with `interrupt_in_use_connections` covered this connection; the
    /// user should abort its operation and let the connection go.
    pub fn is_interrupted(&self) -> bool {
        self.engine.is_interrupted(self.entry().generation)
    }

    /// Checks the connection in now (same as dropping it).
    pub fn check_in(self) {}
}

impl<M: Manager, B: Backend> Deref for PooledConnection<M, B> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.entry().conn
    }
}

impl<M: Manager, B: Backend> DerefMut for PooledConnection<M, B> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.entry.as_mut().expect("entry present until drop").conn
    }
}

impl<M: Manager, B: Backend> Drop for PooledConnection<M, B> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            if let Some(leak) = self.leak.take() {
                leak.returned(&self.engine);
            }
            let errored = self.errored;
            self.engine.check_in(entry, errored);
        }
    }
}

impl<M: Manager, B: Backend> std::fmt::Debug for PooledConnection<M, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("id", &self.id())
            .field("generation", &self.generation())
            .finish()
    }
}
