//! The packed state word: every count and flag a checkout decision needs, in one `u64`,
//! so one CAS decides admission and a snapshot can never be torn.
//!
//! ```text
//!  63 ............ 34 | 33     | 32     | 31 .... 16 | 15 ..... 0
//!  generation (30 b)  | closed | paused | pending    | total
//! ```

/// Bits of `total` (pending + available + in use).
const TOTAL_SHIFT: u32 = 0;
/// Bits of `pending` (establishing).
const PENDING_SHIFT: u32 = 16;
/// Set while the pool is paused (new, or cleared and not yet ready).
const PAUSED: u64 = 1 << 32;
/// Set once the pool is closed; never cleared.
const CLOSED: u64 = 1 << 33;
const GENERATION_SHIFT: u32 = 34;
const COUNT_MASK: u64 = 0xFFFF;
/// Generations wrap at 2^30; staleness is tested by equality, so wrapping is harmless
/// unless a connection sleeps through 2^30 clears.
pub(crate) const GENERATION_MASK: u64 = (1 << 30) - 1;

const _: () = assert!(PENDING_SHIFT >= TOTAL_SHIFT + 16);
const _: () = assert!(PAUSED == 1 << (PENDING_SHIFT + 16));
const _: () = assert!(GENERATION_SHIFT + 30 == 64);

/// A decoded copy of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(pub(crate) u64);

impl State {
    /// A new pool: paused, generation 0, no connections.
    pub(crate) const INITIAL: State = State(PAUSED);

    #[inline]
    pub(crate) fn total(self) -> u32 {
        ((self.0 >> TOTAL_SHIFT) & COUNT_MASK) as u32
    }
    #[inline]
    pub(crate) fn pending(self) -> u32 {
        ((self.0 >> PENDING_SHIFT) & COUNT_MASK) as u32
    }
    #[inline]
    pub(crate) fn paused(self) -> bool {
        self.0 & PAUSED != 0
    }
    #[inline]
    pub(crate) fn closed(self) -> bool {
        self.0 & CLOSED != 0
    }
    #[inline]
    pub(crate) fn generation(self) -> u64 {
        self.0 >> GENERATION_SHIFT
    }

    /// One more pending connection (admission for a creation).
    pub(crate) fn with_created(self) -> State {
        debug_assert!(self.total() < COUNT_MASK as u32, "I1: total overflow");
        debug_assert!(self.pending() < self.total() + 1, "I2: pending <= total");
        State(self.0 + (1 << TOTAL_SHIFT) + (1 << PENDING_SHIFT))
    }

    /// The ready state with the paused bit dropped.
    pub(crate) fn with_ready(self) -> State {
        let next = State(self.0 & !PAUSED);
        debug_assert!(
            !next.paused() && next.0 | PAUSED == self.0 | PAUSED,
            "with_ready clears the paused flag and nothing else"
        );
        next
    }

    /// Paused, with the next generation.
    pub(crate) fn with_cleared(self) -> State {
        let generation = (self.generation() + 1) & GENERATION_MASK;
        let next = State(
            (self.0 & !(GENERATION_MASK << GENERATION_SHIFT))
                | PAUSED
                | (generation << GENERATION_SHIFT),
        );
        debug_assert!(
            next.paused()
                && next.generation() != self.generation()
                && (next.total(), next.pending(), next.closed())
                    == (self.total(), self.pending(), self.closed()),
            "with_cleared pauses, moves the generation on, and keeps the counts"
        );
        next
    }

    #[cfg(test)]
    pub(crate) fn with_closed(self) -> State {
        State(self.0 | CLOSED)
    }

    /// The closed flag, for `fetch_or`.
    pub(crate) const CLOSED_BIT: u64 = CLOSED;
    /// The amount to `fetch_sub` when a pending connection becomes established.
    pub(crate) const PENDING_ONE: u64 = 1 << PENDING_SHIFT;
    /// The amount to `fetch_sub` when a live (non-pending) connection is closed.
    pub(crate) const TOTAL_ONE: u64 = 1 << TOTAL_SHIFT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_do_not_overlap() {
        let s = State::INITIAL.with_ready().with_created().with_created();
        assert_eq!(
            (
                s.total(),
                s.pending(),
                s.paused(),
                s.closed(),
                s.generation()
            ),
            (2, 2, false, false, 0)
        );
        let s = State(s.0 - State::PENDING_ONE);
        assert_eq!((s.total(), s.pending()), (2, 1));
        let s = s.with_cleared().with_cleared();
        assert_eq!(
            (s.total(), s.pending(), s.paused(), s.generation()),
            (2, 1, true, 2)
        );
        let s = s.with_closed();
        assert!(s.closed() && s.paused());
        assert_eq!(s.generation(), 2);
    }

    #[test]
    fn generation_wraps_without_touching_flags() {
        let mut s = State(State::INITIAL.0 | (GENERATION_MASK << GENERATION_SHIFT));
        s = s.with_cleared();
        assert_eq!(s.generation(), 0);
        assert!(s.paused());
        assert!(!s.closed());
    }
}
