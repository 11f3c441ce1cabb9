//! Spreading publications evenly over time at a target rate.

use std::time::Duration;

use tokio::time::Instant;

/// The shortest wait between two sends: below it, publications due are
/// sent together.
const MIN_TICK: Duration = Duration::from_millis(2);

/// A schedule of `rate` sends per second from `start`.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    rate: f64,
    sent: u64,
    limit: u64,
}

impl Pacer {
    /// A schedule of `rate` per second starting at `start`, ending after
    /// `limit` sends.
    pub fn new(start: Instant, rate: f64, limit: u64) -> Self {
        Self {
            start,
            rate: rate.max(0.0),
            sent: 0,
            limit,
        }
    }

    /// How many sends are due at `now` (zero once the limit is reached).
    pub fn due(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        let owed = (elapsed * self.rate).floor() as u64 + u64::from(now >= self.start);
        owed.min(self.limit).saturating_sub(self.sent)
    }

    /// Counts `count` sends as done.
    pub fn done(&mut self, count: u64) {
        self.sent += count;
    }

    /// Sends done so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether every send the limit allows is done.
    pub fn finished(&self) -> bool {
        self.sent >= self.limit
    }

    /// When the next send falls due (at least [`MIN_TICK`] from `now`).
    pub fn next_at(&self, now: Instant) -> Instant {
        if self.rate <= 0.0 {
            return now + Duration::from_secs(3600);
        }
        // Send number `sent + 1` (counting the one due at start) is due at
        // `sent / rate`.
        let at = self.start + Duration::from_secs_f64(self.sent as f64 / self.rate);
        at.max(now + MIN_TICK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_fall_due_at_the_rate() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, 100.0, 1000);
        assert_eq!(pacer.due(start), 1);
        pacer.done(1);
        assert_eq!(pacer.due(start + Duration::from_millis(5)), 0);
        assert_eq!(pacer.due(start + Duration::from_millis(10)), 1);
        assert_eq!(pacer.due(start + Duration::from_secs(1)), 100);
        pacer.done(100);
        assert_eq!(pacer.sent(), 101);
        assert!(pacer.next_at(start) >= start + Duration::from_millis(1000));
    }

    #[test]
    fn the_limit_bounds_the_count() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, 1000.0, 5);
        assert_eq!(pacer.due(start + Duration::from_secs(10)), 5);
        pacer.done(5);
        assert!(pacer.finished());
        assert_eq!(pacer.due(start + Duration::from_secs(20)), 0);
    }

    #[test]
    fn nothing_is_due_before_the_start() {
        let now = Instant::now();
        let pacer = Pacer::new(now + Duration::from_secs(1), 10.0, 100);
        assert_eq!(pacer.due(now), 0);
    }
}
