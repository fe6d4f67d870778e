//! The simulated network: in-memory byte streams with seeded latency and faults, between
//! the pool's connections and mock-server's connection handler.
//!
//! A connection is two one-way pipes. A write appends a *segment* stamped with its
//! delivery time (now + one-way latency, never before the previous segment: TCP keeps
//! order); a read takes the bytes of segments whose time has come, or sleeps until the
//! next one is due. Closing (or dropping) a [`SimStream`] sends a FIN the same way.
//!
//! Faults ([`NetFaults`], set by the fault driver): connects refused, delayed or
//! black-holed (never answered); a partition (nothing is delivered either way until it
//! heals; connects wait for it); latency spikes; a server "down" window (connects
//! refused); and [`SimNet::reset`], which resets one connection at once in both
//! directions (reads and writes fail with `ConnectionReset`).

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pool_core::ConnectionId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::executor::TaskKind;
use crate::rng::Rng;
use crate::runtime::{SimRuntime, Sleep};

/// Network fault state: each fault is "in force until" a virtual instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetFaults {
    /// Connects fail with `ConnectionRefused` until then.
    pub refuse_until: Duration,
    /// Connects are never answered until then (they hang until their caller gives up).
    pub black_hole_until: Duration,
    /// Connects take `connect_delay` longer until then.
    pub delay_until: Duration,
    /// The extra connect time while `delay_until` holds.
    pub connect_delay: Duration,
    /// Nothing is delivered in either direction until then.
    pub partition_until: Duration,
    /// Every segment takes `spike` longer until then.
    pub spike_until: Duration,
    /// The extra one-way latency of a spike.
    pub spike: Duration,
    /// The server is down (restarting): connects are refused until then.
    pub down_until: Duration,
}

/// Seeded latency settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Least one-way latency.
    pub min: Duration,
    /// Most one-way latency (outside spikes).
    pub max: Duration,
}

/// Who hears about server-side connection ends (for the trace).
pub trait NetObserver: Send + Sync {
    /// A server connection handler returned.
    fn server_connection_ended(&self, id: ConnectionId, end: &mock_server::ConnectionEnd);
}

struct NetState {
    rng: Rng,
    latency: Latency,
    faults: NetFaults,
    /// Client-side ends by pool connection id, for resets.
    sockets: BTreeMap<ConnectionId, (Weak<Pipe>, Weak<Pipe>)>,
}

/// The simulated network. Cheap to clone.
#[derive(Clone)]
pub struct SimNet {
    state: Arc<Mutex<NetState>>,
    runtime: SimRuntime,
    server: Arc<mock_server::Server>,
    observer: Arc<dyn NetObserver>,
}

impl SimNet {
    /// A network in front of `server`.
    pub fn new(
        runtime: SimRuntime,
        server: Arc<mock_server::Server>,
        rng: Rng,
        latency: Latency,
        observer: Arc<dyn NetObserver>,
    ) -> SimNet {
        SimNet {
            state: Arc::new(Mutex::new(NetState {
                rng,
                latency,
                faults: NetFaults::default(),
                sockets: BTreeMap::new(),
            })),
            runtime,
            server,
            observer,
        }
    }

    fn lock(&self) -> MutexGuard<'_, NetState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The mock server behind the network.
    pub fn server(&self) -> &Arc<mock_server::Server> {
        &self.server
    }

    /// Changes the fault state.
    pub fn update_faults(&self, change: impl FnOnce(&mut NetFaults)) {
        change(&mut self.lock().faults);
    }

    /// Resets connection `id` (both directions fail at once). False if it is not open.
    pub fn reset(&self, id: ConnectionId) -> bool {
        let ends = self.lock().sockets.remove(&id);
        let Some((read, write)) = ends else {
            return false;
        };
        let mut any = false;
        for pipe in [read.upgrade(), write.upgrade()].into_iter().flatten() {
            pipe.reset();
            any = true;
        }
        any
    }

    /// Opens a connection for pool connection `id` and starts a server handler for it.
    ///
    /// # Errors
    /// `ConnectionRefused` while connects are refused or the server is down. A
    /// black-holed connect never completes (its caller's timeout drops it).
    pub async fn connect(&self, id: ConnectionId) -> io::Result<SimStream> {
        let now = self.runtime.now();
        let (faults, rtt) = {
            let mut state = self.lock();
            let rtt = state.one_way(now) * 2;
            (state.faults.clone(), rtt)
        };
        if faults.partition_until > now {
            self.runtime.sleep_until(faults.partition_until).await;
        }
        if faults.black_hole_until > now {
            std::future::pending::<()>().await;
        }
        let delay = if faults.delay_until > now {
            faults.connect_delay
        } else {
            Duration::ZERO
        };
        self.runtime.sleep(rtt + delay).await;
        // The SYN reaches the server now: refused if it refuses (or is down) by then.
        let now = self.runtime.now();
        let refusing = {
            let faults = &self.lock().faults;
            faults.refuse_until > now || faults.down_until > now
        };
        if refusing {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "connection refused (simulated)",
            ));
        }
        Ok(self.open(id))
    }

    fn open(&self, id: ConnectionId) -> SimStream {
        let to_server = Arc::new(Pipe::default());
        let to_client = Arc::new(Pipe::default());
        self.lock()
            .sockets
            .insert(id, (Arc::downgrade(&to_client), Arc::downgrade(&to_server)));
        let server_end = SimStream::new(self.clone(), to_server.clone(), to_client.clone());
        let client_end = SimStream::new(self.clone(), to_client, to_server);
        let (server, observer) = (self.server.clone(), self.observer.clone());
        self.runtime.spawn_task(
            TaskKind::Server,
            Box::pin(async move {
                let end = mock_server::serve_connection(server, server_end, id).await;
                observer.server_connection_ended(id, &end);
            }),
        );
        client_end
    }

    /// The delivery time of a segment written now.
    fn delivery_time(&self, after: Duration) -> Duration {
        let now = self.runtime.now();
        let mut state = self.lock();
        let mut at = now + state.one_way(now);
        if at < after {
            at = after;
        }
        at
    }

    fn partition_until(&self) -> Duration {
        self.lock().faults.partition_until
    }
}

impl NetState {
    /// One seeded one-way latency, plus a spike if one is in force at `now`.
    fn one_way(&mut self, now: Duration) -> Duration {
        let base = self.rng.duration(self.latency.min, self.latency.max);
        if self.faults.spike_until > now {
            base + self.faults.spike
        } else {
            base
        }
    }
}

// ===== pipes =====

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
}

#[derive(Default)]
struct PipeState {
    /// (delivery time, bytes); empty bytes are the FIN.
    segments: VecDeque<(Duration, Vec<u8>)>,
    /// Bytes of the front segment already read.
    offset: usize,
    /// Delivery time of the last segment (keeps order).
    last_at: Duration,
    /// A FIN was sent (no more writes).
    finished: bool,
    /// Reset: reads and writes fail.
    reset: bool,
    /// The reading end is gone; writes fail.
    reader_gone: bool,
    reader: Option<Waker>,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reset(&self) {
        let waker = {
            let mut s = self.lock();
            s.reset = true;
            s.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn push(&self, at: Duration, bytes: Vec<u8>) {
        let waker = {
            let mut s = self.lock();
            s.last_at = at;
            s.segments.push_back((at, bytes));
            s.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// One end of a simulated connection: reads from one pipe, writes to the other.
pub struct SimStream {
    net: SimNet,
    read: Arc<Pipe>,
    write: Arc<Pipe>,
    /// The sleep until the next segment is due (or the partition heals).
    wait: Option<Sleep>,
}

impl SimStream {
    fn new(net: SimNet, read: Arc<Pipe>, write: Arc<Pipe>) -> SimStream {
        SimStream {
            net,
            read,
            write,
            wait: None,
        }
    }

    /// Sends a FIN (once).
    fn finish(&self) {
        let at = {
            let s = self.write.lock();
            if s.finished || s.reset {
                return;
            }
            s.last_at
        };
        let at = self.net.delivery_time(at);
        self.write.lock().finished = true;
        self.write.push(at, Vec::new());
    }
}

enum ReadStep {
    Data,
    Eof,
    WaitUntil(Duration),
    WaitWrite,
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let now = this.net.runtime.now();
            let partition = this.net.partition_until();
            let step = {
                let mut s = this.read.lock();
                if s.reset {
                    return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                }
                let front = s
                    .segments
                    .front()
                    .map(|(at, bytes)| (*at, bytes.is_empty()));
                match front {
                    Some((at, _)) if partition > now => WaitUntil(partition.max(at)),
                    Some((at, true)) if at <= now => ReadStep::Eof,
                    Some((at, false)) if at <= now => {
                        let from = s.offset;
                        let taken = {
                            let bytes = &s.segments[0].1;
                            let n = (bytes.len() - from).min(buf.remaining());
                            buf.put_slice(&bytes[from..from + n]);
                            n
                        };
                        s.offset += taken;
                        if s.offset == s.segments[0].1.len() {
                            s.segments.pop_front();
                            s.offset = 0;
                        }
                        ReadStep::Data
                    }
                    Some((at, _)) => WaitUntil(at),
                    None => {
                        s.reader = Some(cx.waker().clone());
                        ReadStep::WaitWrite
                    }
                }
            };
            use ReadStep::WaitUntil;
            match step {
                ReadStep::Data | ReadStep::Eof => {
                    this.wait = None;
                    return Poll::Ready(Ok(()));
                }
                ReadStep::WaitWrite => return Poll::Pending,
                WaitUntil(at) => {
                    // A reset must wake us even while we sleep for a segment.
                    this.read.lock().reader = Some(cx.waker().clone());
                    let runtime = this.net.runtime.clone();
                    let sleep = this.wait.get_or_insert_with(|| runtime.sleep_until(at));
                    if Pin::new(sleep).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.wait = None;
                }
            }
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let last = {
            let s = this.write.lock();
            if s.reset {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            if s.reader_gone || s.finished {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            s.last_at
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let at = this.net.delivery_time(last);
        this.write.push(at, buf.to_vec());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write.lock().reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.finish();
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.finish();
        self.read.lock().reader_gone = true;
    }
}
