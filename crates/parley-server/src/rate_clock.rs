//! The clock every rate limiter of the process reads.
//!
//! governor's default clock is quanta's, and building one probes the CPU
//! (`cpuid`) every time. Each connection builds a limiter for its commands
//! (and a Pusher connection one for its client events); with a clock of
//! its own each, that probe took about a tenth of the server's CPU per
//! connect (`perf` during `parley-bench connect`: `CpuId::default` 5.5 %,
//! `quanta::Clock::default` 3.3 %). One clock, built once and cloned (an
//! `Arc`), costs nothing per connection.

use std::sync::LazyLock;

use governor::clock::{Clock, DefaultClock};

static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

/// The process's clock, for a new limiter.
pub fn clock() -> DefaultClock {
    CLOCK.clone()
}

/// Now, as the limiters see it: what a refusal's wait is counted from.
pub fn now() -> <DefaultClock as Clock>::Instant {
    CLOCK.now()
}
