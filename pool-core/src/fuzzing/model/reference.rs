//! The sequential reference model: a pool with the same rules as the real one, written
//! for clarity, not speed. Time, connections and checkouts are plain numbers; a checkout
//! is an index into `Model::checkouts`.

use std::collections::VecDeque;

use super::ops::Config;

/// How a checkout ended, as both sides report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A connection, by id.
    Conn(u64),
    /// `PoolClosed`.
    Closed,
    /// `PoolCleared`.
    Cleared,
    /// `Timeout`.
    Timeout,
    /// A checkout error the model never produces (always a divergence).
    Unexpected(String),
}

/// What the model hands a queued checkout.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Grant {
    Idle(ModelConn),
    Create { generation: u64 },
    Refused(Outcome2),
}

/// Why a queued checkout was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome2 {
    Closed,
    Cleared,
}

/// A connection as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ModelConn {
    pub(super) id: u64,
    pub(super) generation: u64,
    pub(super) idle_since: u64,
}

/// A checkout the model has queued.
#[derive(Debug)]
struct Waiting {
    deadline: Option<u64>,
    grant: Option<Grant>,
    cancelled: bool,
}

/// A sequential pool with the same rules, written for clarity, not speed.
pub(super) struct Model {
    pub(super) cfg: Config,
    pub(super) now: u64,
    pub(super) paused: bool,
    pub(super) closed: bool,
    pub(super) generation: u64,
    pub(super) total: u32,
    pub(super) pending: u32,
    next_id: u64,
    pub(super) idle: VecDeque<ModelConn>,
    /// The test thread's shelf: a connection checked in while nobody queues goes here,
    /// if it is free, and the next checkout takes it first.
    pub(super) shelf: Option<ModelConn>,
    /// Queue of checkout indices (cancelled ones stay as tombstones until popped).
    queue: VecDeque<usize>,
    checkouts: Vec<Option<Waiting>>,
}

impl Model {
    /// A ready, empty pool with options `cfg` at time 0.
    pub(super) fn new(cfg: Config) -> Self {
        Model {
            cfg,
            now: 0,
            paused: false,
            closed: false,
            generation: 0,
            total: 0,
            pending: 0,
            next_id: 0,
            idle: VecDeque::new(),
            shelf: None,
            queue: VecDeque::new(),
            checkouts: Vec::new(),
        }
    }

    /// Checkouts still waiting: neither cancelled nor granted.
    pub(super) fn live_waiters(&self) -> u32 {
        self.checkouts
            .iter()
            .flatten()
            .filter(|w| !w.cancelled && w.grant.is_none())
            .count() as u32
    }

    fn perished(&self, c: &ModelConn) -> bool {
        self.closed
            || c.generation != self.generation
            || self
                .cfg
                .max_idle_ms
                .is_some_and(|m| self.now.saturating_sub(c.idle_since) > m)
    }

    /// An available connection (the shelf first, then `idle`), closing perished ones on
    /// the way.
    fn take_available(&mut self) -> Option<ModelConn> {
        while let Some(c) = self.shelf.take().or_else(|| self.idle.pop_front()) {
            if self.perished(&c) {
                self.total -= 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    fn reserve(&mut self) -> Option<Grant> {
        if let Some(c) = self.take_available() {
            return Some(Grant::Idle(c));
        }
        if !self.paused
            && !self.closed
            && self.total < self.cfg.max_pool_size
            && self.pending < self.cfg.max_connecting
        {
            self.total += 1;
            self.pending += 1;
            return Some(Grant::Create {
                generation: self.generation,
            });
        }
        None
    }

    /// Test-on-borrow: `c`, taken from the pool, sat available past the bypass window.
    fn due(&self, c: &ModelConn) -> bool {
        self.cfg
            .test_on_borrow_ms
            .is_some_and(|bypass| bypass == 0 || self.now.saturating_sub(c.idle_since) > bypass)
    }

    /// Connection `id` fails its validation (the manager's `fail_mask`).
    fn fails(&self, id: u64) -> bool {
        self.cfg.fail_mask & (1 << (id % 8)) != 0
    }

    fn release(&mut self, g: Grant) {
        match g {
            Grant::Idle(c) => self.idle.push_back(c),
            Grant::Create { .. } => {
                self.total -= 1;
                self.pending -= 1;
            }
            Grant::Refused(_) => {}
        }
    }

    fn dispatch(&mut self) {
        loop {
            if self.closed {
                while let Some(c) = self.idle.pop_front().or_else(|| self.shelf.take()) {
                    let _ = c;
                    self.total -= 1;
                }
                self.refuse_all(Outcome2::Closed);
                return;
            }
            if self.queue.is_empty() {
                return;
            }
            if self.paused {
                self.refuse_all(Outcome2::Cleared);
                return;
            }
            let Some(g) = self.reserve() else { return };
            let head = self.queue.pop_front().expect("non-empty");
            let w = self.checkouts[head]
                .as_mut()
                .expect("queued checkouts exist");
            if w.cancelled {
                self.release(g);
            } else {
                w.grant = Some(g);
            }
        }
    }

    fn refuse_all(&mut self, why: Outcome2) {
        while let Some(i) = self.queue.pop_front() {
            let w = self.checkouts[i].as_mut().expect("queued checkouts exist");
            if !w.cancelled {
                w.grant = Some(Grant::Refused(why));
            }
        }
    }

    /// A new checkout `index`: returns its outcome if it ends on its first poll.
    pub(super) fn check_out(&mut self, index: usize) -> Option<Outcome> {
        let deadline = self.cfg.wait_queue_timeout_ms.map(|t| self.now + t);
        if self.closed {
            self.checkouts.push(None);
            return Some(Outcome::Closed);
        }
        if self.paused {
            self.checkouts.push(None);
            return Some(Outcome::Cleared);
        }
        assert_eq!(index, self.checkouts.len());
        self.checkouts.push(None);
        self.acquire(index, deadline)
    }

    /// The queue-free attempt, else queueing (the pool polls its own wait once, right after
    /// enqueueing).
    fn acquire(&mut self, index: usize, deadline: Option<u64>) -> Option<Outcome> {
        if self.queue.is_empty() {
            if let Some(g) = self.reserve() {
                return self.finish(index, deadline, g);
            }
        }
        self.checkouts[index] = Some(Waiting {
            deadline,
            grant: None,
            cancelled: false,
        });
        self.queue.push_back(index);
        self.dispatch();
        self.poll(index)
    }

    /// Turns a grant into an outcome (establishing and validating instantly, as `Noop`
    /// does); `None` if checkout `index` queued again after a failed validation.
    fn finish(&mut self, index: usize, deadline: Option<u64>, g: Grant) -> Option<Outcome> {
        let mut g = g;
        loop {
            let c = match g {
                Grant::Idle(c) if self.due(&c) => {
                    if deadline.is_some_and(|d| self.now >= d) {
                        // No time left to validate it: back to the pool unvalidated.
                        self.idle.push_back(c);
                        self.dispatch();
                        return Some(Outcome::Timeout);
                    }
                    if !self.fails(c.id) {
                        c
                    } else {
                        match self.after_failed_validation() {
                            Ok(Some(next)) => {
                                g = next;
                                continue;
                            }
                            Ok(None) => {
                                // Queued ahead of the later checkouts before the failed
                                // connection's unit goes (the pool's `retries` ring).
                                self.checkouts[index] = Some(Waiting {
                                    deadline,
                                    grant: None,
                                    cancelled: false,
                                });
                                self.queue.push_front(index);
                                self.total -= 1;
                                self.dispatch();
                                return self.poll(index);
                            }
                            Err(outcome) => return Some(outcome),
                        }
                    }
                }
                Grant::Idle(c) => c,
                Grant::Create { generation } => {
                    self.next_id += 1;
                    self.pending -= 1;
                    self.dispatch();
                    ModelConn {
                        id: self.next_id,
                        generation,
                        idle_since: self.now,
                    }
                }
                Grant::Refused(Outcome2::Closed) => return Some(Outcome::Closed),
                Grant::Refused(Outcome2::Cleared) => return Some(Outcome::Cleared),
            };
            // I6: the generation is checked again at the hand-out.
            if self.perished(&c) {
                self.total -= 1;
                self.dispatch();
                return Some(if self.closed {
                    Outcome::Closed
                } else {
                    Outcome::Cleared
                });
            }
            return Some(Outcome::Conn(c.id));
        }
    }

    /// A connection failed its validation: it is closed, and the checkout goes on with
    /// another available connection, else a creation under the closed one's unit, else
    /// (`Ok(None)`, the connection not closed yet) the front of the queue. `Err` if the
    /// pool was closed or paused.
    fn after_failed_validation(&mut self) -> Result<Option<Grant>, Outcome> {
        if self.closed || self.paused {
            self.total -= 1;
            self.dispatch();
            return Err(if self.closed {
                Outcome::Closed
            } else {
                Outcome::Cleared
            });
        }
        if let Some(other) = self.take_available() {
            self.total -= 1;
            self.dispatch();
            return Ok(Some(Grant::Idle(other)));
        }
        if self.pending < self.cfg.max_connecting {
            self.pending += 1; // the closed connection's `total` unit now backs a creation
            self.dispatch();
            return Ok(Some(Grant::Create {
                generation: self.generation,
            }));
        }
        Ok(None) // the caller queues, then closes the connection
    }

    /// One poll of waiting checkout `i`: grant first, then its timer.
    pub(super) fn poll(&mut self, i: usize) -> Option<Outcome> {
        let w = self.checkouts[i].as_mut()?;
        if let Some(g) = w.grant.take() {
            let deadline = w.deadline;
            self.checkouts[i] = None;
            return self.finish(i, deadline, g);
        }
        if w.deadline.is_some_and(|d| self.now >= d) {
            w.cancelled = true;
            self.checkouts[i] = Some(Waiting {
                deadline: None,
                grant: None,
                cancelled: true,
            });
            return Some(Outcome::Timeout);
        }
        None
    }

    pub(super) fn cancel(&mut self, i: usize) {
        if let Some(w) = self.checkouts[i].as_mut() {
            w.cancelled = true;
            if let Some(g) = w.grant.take() {
                self.release(g);
                self.dispatch();
            }
        }
    }

    pub(super) fn check_in(&mut self, c: ModelConn, errored: bool) {
        let c = ModelConn {
            idle_since: self.now,
            ..c
        };
        if self.closed || errored || self.perished(&c) {
            self.total -= 1;
        } else if self.queue.is_empty() && self.shelf.is_none() {
            self.shelf = Some(c);
        } else {
            self.idle.push_back(c);
        }
        self.dispatch();
    }

    pub(super) fn clear(&mut self) {
        if self.closed {
            return;
        }
        self.generation += 1;
        self.paused = true;
        self.dispatch();
    }

    pub(super) fn ready(&mut self) {
        if !self.closed && self.paused {
            self.paused = false;
            self.dispatch();
        }
    }

    pub(super) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.dispatch();
        }
    }
}
