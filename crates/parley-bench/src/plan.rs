//! Which connection subscribes to which channel.
//!
//! `channels × subscribers` subscriptions are dealt to the connections in
//! turn: subscription `k` puts connection `k % connections` on channel
//! `k / subscribers`. Every channel gets exactly `subscribers` distinct
//! connections, and connections get equal shares (to within one).

/// The subscription layout of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Connections opened.
    pub connections: usize,
    /// Channels published to.
    pub channels: usize,
    /// Subscribers of each channel.
    pub subscribers: usize,
}

impl Plan {
    /// A plan; `subscribers` defaults to `connections / channels` (at
    /// least one).
    pub fn new(
        connections: usize,
        channels: usize,
        subscribers: Option<usize>,
    ) -> Result<Self, String> {
        if connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if channels == 0 {
            return Ok(Self {
                connections,
                channels: 0,
                subscribers: 0,
            });
        }
        let subscribers = subscribers.unwrap_or((connections / channels).max(1));
        if subscribers == 0 {
            return Err("--subscribers must be at least 1".into());
        }
        if subscribers > connections {
            return Err(format!(
                "{subscribers} subscribers per channel need at least {subscribers} connections"
            ));
        }
        Ok(Self {
            connections,
            channels,
            subscribers,
        })
    }

    /// Every subscription of the run.
    pub fn subscriptions(&self) -> usize {
        self.channels * self.subscribers
    }

    /// The channels connection `conn` subscribes to, by number.
    pub fn channels_of(&self, conn: usize) -> Vec<usize> {
        (conn..self.subscriptions())
            .step_by(self.connections)
            .map(|k| k / self.subscribers)
            .collect()
    }
}

/// The name of channel number `index`.
pub fn channel_name(prefix: &str, index: usize) -> String {
    format!("{prefix}{index}")
}

/// Checks that a channel prefix needs no escaping inside JSON strings and
/// stays within the characters both protocols accept.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-=@,.;:#".contains(c);
    if prefix.chars().all(allowed) {
        Ok(())
    } else {
        Err(format!(
            "channel prefix {prefix:?} may hold only letters, digits and _-=@,.;:#"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_channel_gets_distinct_subscribers() {
        for (connections, channels, subscribers) in
            [(20, 2, None), (10, 3, Some(7)), (7, 5, Some(3))]
        {
            let plan = Plan::new(connections, channels, subscribers).unwrap();
            let mut members = vec![HashSet::new(); channels];
            for conn in 0..connections {
                for channel in plan.channels_of(conn) {
                    assert!(members[channel].insert(conn), "{conn} twice on {channel}");
                }
            }
            assert!(members.iter().all(|m| m.len() == plan.subscribers));
        }
    }

    #[test]
    fn the_issue_layout_gives_one_channel_per_connection() {
        let plan = Plan::new(10_000, 1_000, Some(10)).unwrap();
        assert_eq!(plan.channels_of(0), vec![0]);
        assert_eq!(plan.channels_of(9_999), vec![999]);
        assert_eq!(Plan::new(10, 2, None).unwrap().subscribers, 5);
        assert!(Plan::new(3, 1, Some(4)).is_err());
        assert!(Plan::new(0, 1, None).is_err());
        assert!(Plan::new(5, 0, None).unwrap().channels_of(2).is_empty());
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("bench:").is_ok());
        assert!(check_prefix("private-bench-").is_ok());
        assert!(check_prefix("a\"b").is_err());
        assert!(check_prefix("a b").is_err());
    }
}
