//! An async, FIFO, non-reentrant mutex for pools that run inside the simulation.
//!
//! A task that locks it twice (or two tasks that lock two of them in opposite orders)
//! simply never becomes ready again: the deadlock shows up as waiters that nothing can
//! wake, which the oracle reports, instead of an OS thread blocked forever. The zoo pools
//! use it where real pools use `std::sync::Mutex` or Go's `sync.Mutex`.
//!
//! The protected value moves into the guard while it is held (so guards are `Send`
//! whenever `T` is, with no `unsafe`) and back when the guard drops, which hands the lock
//! to the oldest waiter.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Mutex as StdMutex, MutexGuard as StdGuard};
use std::task::{Context, Poll, Waker};

/// An async mutex.
pub struct Mutex<T> {
    inner: StdMutex<Inner<T>>,
}

struct Inner<T> {
    /// The value while unlocked (or handed to a waiter that has not taken it yet).
    value: Option<T>,
    locked: bool,
    /// Waiting tickets, oldest first.
    queue: VecDeque<(u64, Option<Waker>)>,
    /// The ticket the lock was handed to, if it has not taken it yet.
    handed: Option<u64>,
    next_ticket: u64,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            inner: StdMutex::new(Inner {
                value: Some(value),
                locked: false,
                queue: VecDeque::new(),
                handed: None,
                next_ticket: 0,
            }),
        }
    }

    fn inner(&self) -> StdGuard<'_, Inner<T>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks, waiting in FIFO order.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place (or passes on a lock handed to it).
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            ticket: None,
        }
    }

    /// Locks if nobody holds or waits for the lock.
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        let mut inner = self.inner();
        if inner.locked || !inner.queue.is_empty() {
            return None;
        }
        let value = inner.value.take()?;
        inner.locked = true;
        Some(Guard {
            mutex: self,
            value: Some(value),
        })
    }

    /// Unlocks: the value goes back and the oldest waiter is handed the lock.
    fn unlock(&self, value: T) {
        let waker = {
            let mut inner = self.inner();
            inner.value = Some(value);
            match inner.queue.pop_front() {
                Some((ticket, waker)) => {
                    inner.handed = Some(ticket);
                    waker
                }
                None => {
                    inner.locked = false;
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The future of [`Mutex::lock`].
pub struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    ticket: Option<u64>,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = Guard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard<'a, T>> {
        let mutex = self.mutex;
        let mut inner = mutex.inner();
        match self.ticket {
            None => {
                if !inner.locked && inner.queue.is_empty() {
                    if let Some(value) = inner.value.take() {
                        inner.locked = true;
                        return Poll::Ready(Guard {
                            mutex,
                            value: Some(value),
                        });
                    }
                }
                let ticket = inner.next_ticket;
                inner.next_ticket += 1;
                inner.queue.push_back((ticket, Some(cx.waker().clone())));
                drop(inner);
                self.ticket = Some(ticket);
                Poll::Pending
            }
            Some(ticket) => {
                if inner.handed == Some(ticket) {
                    inner.handed = None;
                    if let Some(value) = inner.value.take() {
                        drop(inner);
                        self.ticket = None;
                        return Poll::Ready(Guard {
                            mutex,
                            value: Some(value),
                        });
                    }
                }
                if let Some(entry) = inner.queue.iter_mut().find(|(t, _)| *t == ticket) {
                    entry.1 = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let handed_value = {
            let mut inner = self.mutex.inner();
            inner.queue.retain(|(t, _)| *t != ticket);
            if inner.handed == Some(ticket) {
                inner.handed = None;
                inner.value.take()
            } else {
                None
            }
        };
        // A lock handed to us that we no longer want goes to the next waiter.
        if let Some(value) = handed_value {
            self.mutex.unlock(value);
        }
    }
}

/// A held lock. Dereferences to the value; unlocks on drop.
pub struct Guard<'a, T> {
    mutex: &'a Mutex<T>,
    value: Option<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Present from construction until drop.
        self.value
            .as_ref()
            .expect("guard holds the value until drop")
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("guard holds the value until drop")
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.mutex.unlock(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Advance, Budget, Executor, TaskKind};
    use crate::rng::Rng;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn fifo_and_reentrant_lock_deadlocks_visibly() {
        let budget = Budget {
            steps_max: 10_000,
            time_max: Duration::from_secs(10),
        };
        let mut ex = Executor::new(Rng::new(5), budget).unwrap();
        let rt = ex.handle();
        let m = Arc::new(Mutex::new(0u32));
        for _ in 0..4 {
            let (m, rt2) = (m.clone(), rt.clone());
            rt.spawn_task(
                TaskKind::Harness,
                Box::pin(async move {
                    let mut g = m.lock().await;
                    rt2.sleep(Duration::from_millis(1)).await;
                    *g += 1;
                }),
            );
        }
        loop {
            ex.run_ready().unwrap();
            if ex.advance().unwrap() == Advance::Stalled {
                break;
            }
        }
        assert_eq!(*m.try_lock().unwrap(), 4);

        let m2 = m.clone();
        let id = rt.spawn_task(
            TaskKind::Harness,
            Box::pin(async move {
                let _outer = m2.lock().await;
                let _inner = m2.lock().await; // never completes
            }),
        );
        ex.run_ready().unwrap();
        assert_eq!(ex.advance().unwrap(), Advance::Stalled);
        assert!(!ex.is_done(id), "the task waits on itself for ever");
    }
}
