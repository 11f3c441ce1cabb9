//! `--reconnect-spread`: how long each client waits after a drop before it
//! reconnects, as clients with jittered backoff do.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest wait one spread may give.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A range of waits, spread uniformly over the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// The shortest wait.
    pub from: Duration,
    /// The longest wait.
    pub to: Duration,
}

impl Spread {
    /// The wait of client `index` in storm `storm`: the same for the same
    /// pair in every run (a hash, not a random generator), spread
    /// uniformly over the range.
    pub fn wait(&self, index: usize, storm: usize) -> Duration {
        let width = self.to.saturating_sub(self.from);
        if width.is_zero() {
            return self.from;
        }
        let draw = mix((index as u64) << 16 ^ storm as u64);
        // The top 53 bits as a fraction in [0, 1).
        let fraction = (draw >> 11) as f64 / (1u64 << 53) as f64;
        self.from + width.mul_f64(fraction)
    }
}

/// SplitMix64's finalizer: neighbouring inputs give unrelated outputs.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

impl FromStr for Spread {
    type Err = String;

    /// Parses `2s` (0 to 2 s) or `500ms..2s`.
    fn from_str(text: &str) -> Result<Self, String> {
        let parse = |part: &str| {
            humantime::parse_duration(part.trim())
                .map_err(|error| format!("{part:?} is not a duration: {error}"))
        };
        let (from, to) = match text.split_once("..") {
            Some((from, to)) => (parse(from)?, parse(to)?),
            None => (Duration::ZERO, parse(text)?),
        };
        if to < from {
            return Err(format!("{text:?}: the range ends before it starts"));
        }
        if to > MAX_WAIT {
            return Err(format!(
                "{text:?}: at most {}",
                humantime::format_duration(MAX_WAIT)
            ));
        }
        Ok(Self { from, to })
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from.is_zero() && self.to.is_zero() {
            return f.write_str("0s (all at once)");
        }
        write!(
            f,
            "{}..{}",
            humantime::format_duration(self.from),
            humantime::format_duration(self.to)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_parse() {
        let all: Spread = "0s".parse().unwrap();
        assert_eq!(all.wait(7, 0), Duration::ZERO);
        assert_eq!(all.to_string(), "0s (all at once)");
        let up_to: Spread = "2s".parse().unwrap();
        assert_eq!(
            (up_to.from, up_to.to),
            (Duration::ZERO, Duration::from_secs(2))
        );
        let range: Spread = "500ms..2s".parse().unwrap();
        assert_eq!(range.from, Duration::from_millis(500));
        assert_eq!(range.to_string(), "500ms..2s");
        assert!("2s..1s".parse::<Spread>().is_err());
        assert!("soon".parse::<Spread>().is_err());
        assert!("2h".parse::<Spread>().is_err());
    }

    #[test]
    fn waits_are_spread_uniformly_over_the_range() {
        let spread: Spread = "1s..2s".parse().unwrap();
        let waits: Vec<Duration> = (0..10_000).map(|index| spread.wait(index, 1)).collect();
        assert!(
            waits
                .iter()
                .all(|wait| (spread.from..spread.to).contains(wait))
        );
        // Each tenth of the range gets about a tenth of the clients.
        let mut deciles = [0usize; 10];
        for wait in &waits {
            deciles[((wait.as_secs_f64() - 1.0) * 10.0) as usize] += 1;
        }
        assert!(
            deciles.iter().all(|&count| (850..1150).contains(&count)),
            "{deciles:?}"
        );
        // Another storm draws other waits.
        assert_ne!(spread.wait(3, 0), spread.wait(3, 1));
    }
}
