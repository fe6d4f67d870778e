//! Client grouping and connection classification.
//!
//! A client is the handshake's `client.driver.name` and `client.application.name` plus
//! the peer's IP address (not its port). Odd metadata (missing fields, wrong types) groups
//! the connection under the fields that could be read; it never fails.
//!
//! A connection is *pooled* from the first command it runs other than hello/isMaster.
//! Monitoring and RTT connections only ever run hello, so they are never pooled. This is
//! a sound lower bound for the checks WIRE-MAX (at most maxPoolSize pooled connections of
//! a client open at once) and WIRE-CONNECTING (at most maxConnecting pooled connections of
//! a client in their handshake at once): it can miss a pool connection that never ran a
//! command, but never counts a monitor. A connection's handshake is the interval from its
//! accept to the first hello reply sent on it, which lies inside the driver's own
//! "pending" interval for it.

use std::fmt;
use std::net::SocketAddr;

use bson::{Bson, Document};
use tokio::time::Instant;

use super::stale::StaleMark;

/// The longest driver or application name kept (longer ones are cut).
const NAME_MAX: usize = 128;

/// Who a connection belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) driver: Option<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) ip: String,
}

impl ClientKey {
    /// The key of a connection from `peer` before its handshake named it.
    pub(crate) fn anonymous(peer: &str) -> ClientKey {
        ClientKey {
            ip: ip_of(peer),
            ..ClientKey::default()
        }
    }

    /// Names the key from a hello's `client` metadata (if it has any readable names).
    pub(crate) fn name_from(&mut self, hello: &Document) {
        let Some(Bson::Document(client)) = hello.get("client") else {
            return;
        };
        self.driver = string_at(client, "driver");
        self.app_name = string_at(client, "application");
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}@{}",
            self.driver.as_deref().unwrap_or("?"),
            self.app_name.as_deref().unwrap_or("?"),
            self.ip
        )
    }
}

/// `metadata[field].name` if it is a string, cut to [`NAME_MAX`] bytes.
fn string_at(metadata: &Document, field: &str) -> Option<String> {
    let Some(Bson::Document(inner)) = metadata.get(field) else {
        return None;
    };
    let Some(Bson::String(name)) = inner.get("name") else {
        return None;
    };
    let mut end = name.len().min(NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Some(name[..end].to_string())
}

/// The IP address of a `peer` spelled `ip:port` (the whole string otherwise).
fn ip_of(peer: &str) -> String {
    match peer.parse::<SocketAddr>() {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => peer.chars().take(NAME_MAX).collect(),
    }
}

/// What the judge knows of one open connection.
#[derive(Clone, Debug)]
pub(crate) struct Tracked {
    pub(crate) key: ClientKey,
    /// The judge's sequence number at its accept (orders it against clearing errors).
    pub(crate) seq: u64,
    /// Whether a request expecting a reply is outstanding (WIRE-STALE only).
    pub(crate) busy: bool,
    /// Set when a clearing error found it idle (WIRE-STALE).
    pub(crate) stale: Option<StaleMark>,
    /// Whether a hello named the client (later hellos do not rename it).
    pub(crate) named: bool,
    pub(crate) accepted: Instant,
    /// When the first hello reply was sent.
    pub(crate) hello_replied: Option<Instant>,
    pub(crate) pooled: bool,
    /// The latest instant the connection may stay open (its client ended its sessions).
    pub(crate) leak_deadline: Option<Instant>,
    /// Whether WIRE-LEAK was already reported for it.
    pub(crate) leak_reported: bool,
}

/// A pooled connection's handshake interval, kept after the connection closes so later
/// connections can be checked against it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handshake {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

impl Handshake {
    fn contains(&self, at: Instant) -> bool {
        self.start <= at && at <= self.end
    }
}

/// The most pooled handshakes of `others` (plus `this`) that overlap at one instant of
/// `this` (the point overlap is largest at some interval's start).
pub(crate) fn max_overlap(this: Handshake, others: &[Handshake]) -> usize {
    let points = std::iter::once(this.start)
        .chain(others.iter().map(|h| h.start))
        .filter(|&p| this.contains(p));
    points
        .map(|p| 1 + others.iter().filter(|h| h.contains(p)).count())
        .max()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use std::time::Duration;

    #[test]
    fn keys_survive_odd_metadata() {
        let mut key = ClientKey::anonymous("10.0.0.1:4242");
        assert_eq!(key.ip, "10.0.0.1");
        key.name_from(&doc! {"client": {"driver": 3, "application": {"name": ["x"]}}});
        assert_eq!((key.driver.clone(), key.app_name.clone()), (None, None));
        key.name_from(&doc! {"client": {"driver": {"name": "d"}, "application": {"name": "a"}}});
        assert_eq!(key.to_string(), "d/a@10.0.0.1");
        assert_eq!(ClientKey::anonymous("duplex").ip, "duplex");
    }

    #[test]
    fn overlap_counts_the_busiest_instant() {
        let t = Instant::now();
        let at = |a: u64, b: u64| Handshake {
            start: t + Duration::from_millis(a),
            end: t + Duration::from_millis(b),
        };
        assert_eq!(max_overlap(at(0, 10), &[]), 1);
        assert_eq!(max_overlap(at(5, 10), &[at(0, 6), at(7, 9)]), 2);
        assert_eq!(max_overlap(at(0, 10), &[at(1, 2), at(1, 3), at(11, 12)]), 3);
    }
}
