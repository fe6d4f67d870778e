//! The checked-out connection guards: [`PooledConnection`], which owns a reference to
//! its pool, and [`BorrowedConnection`], which borrows the [`Pool`](crate::Pool) it came
//! from.
//!
//! Both hold the same thing, a [`Held`] checkout, and differ only in how they reach the
//! engine when they check the connection in. An owned guard clones the engine's `Arc` at
//! checkout and drops it at check-in: two atomic read-modify-writes on a line every
//! checkout in the process writes (cheap on one thread, a cache-line transfer per
//! checkout when several cores check out at once). A borrowed guard reaches the engine
//! through the pool it borrows, so it pays neither; the borrow checker keeps the pool
//! alive instead of the reference count.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::engine::{Engine, Entry};
use crate::event::ConnectionId;
use crate::leak::LeakWatch;
use crate::manager::Manager;
use crate::sync::Backend;

/// A checkout in progress: the connection and what happens to it at check-in. The guard
/// around it supplies the engine.
struct Held<C> {
    /// `Some` until the guard checks it in (or hands it to another guard).
    entry: Option<Entry<C>>,
    /// Close the connection (reason `error`) at check-in.
    errored: bool,
    /// The leak watch of this checkout (`leak_detection_threshold` on).
    leak: Option<Arc<LeakWatch>>,
}

impl<C> Held<C> {
    #[inline]
    fn new<M: Manager<Connection = C>, B: Backend>(
        engine: &Arc<Engine<M, B>>,
        entry: Entry<C>,
    ) -> Self {
        let leak = engine
            .options
            .leak_detection_threshold
            .map(|threshold| LeakWatch::start(engine, entry.id, threshold));
        Held {
            entry: Some(entry),
            errored: false,
            leak,
        }
    }

    fn entry(&self) -> &Entry<C> {
        // The entry is taken only by `check_in_to` and `take`, which leave the guard
        // unusable (it is being dropped or moved into another guard).
        self.entry.as_ref().expect("entry present until check-in")
    }

    fn entry_mut(&mut self) -> &mut Entry<C> {
        self.entry.as_mut().expect("entry present until check-in")
    }

    /// Checks the connection in to `engine` (once; later calls do nothing).
    #[inline]
    fn check_in_to<M: Manager<Connection = C>, B: Backend>(&mut self, engine: &Engine<M, B>) {
        if let Some(entry) = self.entry.take() {
            if let Some(leak) = self.leak.take() {
                leak.returned(engine);
            }
            engine.check_in(entry, self.errored);
        }
    }

    /// Moves the checkout out, leaving this one empty (its check-in does nothing).
    fn take(&mut self) -> Held<C> {
        Held {
            entry: self.entry.take(),
            errored: self.errored,
            leak: self.leak.take(),
        }
    }
}

/// A checked-out connection that keeps its pool alive. Dereferences to the manager's
/// connection; checks itself in when dropped. It is `'static`, so it can move into a
/// spawned task; [`BorrowedConnection`] is the cheaper guard for the common case of a
/// connection used within the borrow of its pool.
pub struct PooledConnection<M: Manager, B: Backend = crate::sync::StdBackend> {
    pub(crate) engine: Arc<Engine<M, B>>,
    held: Held<M::Connection>,
}

/// A checked-out connection that borrows its [`Pool`](crate::Pool) (from
/// [`Pool::get`](crate::Pool::get)). Dereferences to the manager's connection; checks
/// itself in when dropped. Same behaviour as [`PooledConnection`], two atomic
/// read-modify-writes cheaper per checkout; [`BorrowedConnection::into_owned`] turns it
/// into one when it must outlive the borrow.
pub struct BorrowedConnection<'a, M: Manager, B: Backend = crate::sync::StdBackend> {
    engine: &'a Arc<Engine<M, B>>,
    held: Held<M::Connection>,
}

impl<M: Manager, B: Backend> PooledConnection<M, B> {
    #[inline]
    pub(crate) fn new(engine: Arc<Engine<M, B>>, entry: Entry<M::Connection>) -> Self {
        let held = Held::new(&engine, entry);
        PooledConnection { engine, held }
    }
}

impl<'a, M: Manager, B: Backend> BorrowedConnection<'a, M, B> {
    #[inline]
    pub(crate) fn new(engine: &'a Arc<Engine<M, B>>, entry: Entry<M::Connection>) -> Self {
        let held = Held::new(engine, entry);
        BorrowedConnection { engine, held }
    }

    /// The same checkout as a guard that owns a reference to its pool (for a spawned
    /// task, or a struct that outlives the borrow). Nothing is checked in or out.
    pub fn into_owned(mut self) -> PooledConnection<M, B> {
        PooledConnection {
            engine: self.engine.clone(),
            held: self.held.take(),
        }
    }
}

/// The methods and traits the two guards share, written once.
macro_rules! guard_api {
    ($guard:ident $(<$lt:lifetime>)?) => {
        impl<$($lt,)? M: Manager, B: Backend> $guard<$($lt,)? M, B> {
            /// The connection's id in its pool.
            pub fn id(&self) -> ConnectionId {
                self.held.entry().id
            }

            /// The pool generation the connection belongs to.
            pub fn generation(&self) -> u64 {
                self.held.entry().generation
            }

            /// Marks the connection errored: it is closed (reason `error`) at check-in.
            pub fn mark_errored(&mut self) {
                self.held.errored = true;
            }

            /// True if a clear with `interrupt_in_use_connections` covered this connection;
            /// the user should abort its operation and let the connection go.
            pub fn is_interrupted(&self) -> bool {
                self.engine.is_interrupted(self.held.entry().generation)
            }

            /// Checks the connection in now (same as dropping it).
            pub fn check_in(self) {}
        }

        impl<$($lt,)? M: Manager, B: Backend> Deref for $guard<$($lt,)? M, B> {
            type Target = M::Connection;
            fn deref(&self) -> &M::Connection {
                &self.held.entry().conn
            }
        }

        impl<$($lt,)? M: Manager, B: Backend> DerefMut for $guard<$($lt,)? M, B> {
            fn deref_mut(&mut self) -> &mut M::Connection {
                &mut self.held.entry_mut().conn
            }
        }

        impl<$($lt,)? M: Manager, B: Backend> Drop for $guard<$($lt,)? M, B> {
            #[inline]
            fn drop(&mut self) {
                self.held.check_in_to(self.engine.as_ref());
            }
        }

        impl<$($lt,)? M: Manager, B: Backend> std::fmt::Debug for $guard<$($lt,)? M, B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut s = f.debug_struct(stringify!($guard));
                if let Some(entry) = self.held.entry.as_ref() {
                    s.field("id", &entry.id).field("generation", &entry.generation);
                }
                s.finish()
            }
        }
    };
}

guard_api!(PooledConnection);
guard_api!(BorrowedConnection<'a>);
