//! The Redis names of a channel: its stream's keys and its pub/sub topic.

/// Names every key and topic of one deployment under its prefix, so several
/// deployments (or tests) can share one Redis.
///
/// A channel is named by its app's length, the app and the channel
/// (`<prefix>:<kind>:<app length>.<app>:<channel>`): a channel name may
/// hold `:`, and the length keeps `a:b` + `c` apart from `a` + `b:c`.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    fn name(&self, kind: &str, app: &str, channel: &str) -> String {
        format!("{}:{kind}:{}.{app}:{channel}", self.prefix, app.len())
    }

    /// The hash with the stream's `epoch`, last `offset` and history `ttl`.
    pub(crate) fn stream(&self, app: &str, channel: &str) -> String {
        self.name("stream", app, channel)
    }

    /// The Redis stream of kept publications, one entry per offset.
    pub(crate) fn history(&self, app: &str, channel: &str) -> String {
        self.name("history", app, channel)
    }

    /// A user's message rate bucket in one namespace of an app: the
    /// theoretical arrival time of its next message (GCRA).
    pub(crate) fn rate_bucket(&self, app: &str, namespace: &str, user: &str) -> String {
        format!(
            "{}:rate:{}.{app}:{}.{namespace}:{user}",
            self.prefix,
            app.len(),
            namespace.len()
        )
    }

    /// The marker of a user's last message in a slow-mode channel, alive
    /// for the slow-mode period.
    pub(crate) fn slow_mode(&self, app: &str, channel: &str, user: &str) -> String {
        format!(
            "{}:slow:{}.{app}:{}.{channel}:{user}",
            self.prefix,
            app.len(),
            channel.len()
        )
    }

    /// The last event of a Pusher cache channel.
    pub(crate) fn cache(&self, app: &str, channel: &str) -> String {
        self.name("cache", app, channel)
    }

    /// A channel's presence key of `kind` (`presence.h`, `.e`, `.u`, `.a`:
    /// see `presence_scripts.rs`).
    pub(crate) fn presence(&self, kind: &str, app: &str, channel: &str) -> String {
        self.name(kind, app, channel)
    }

    /// The schedule of every channel's first lease expiry.
    pub(crate) fn presence_schedule(&self) -> String {
        format!("{}:presence-due", self.prefix)
    }

    /// A user's status across the deployment: their nodes, away flag and
    /// last seen.
    pub(crate) fn status(&self, app: &str, user: &str) -> String {
        self.name("status", app, user)
    }

    /// The nodes that hold (or held) connected users of an app.
    pub(crate) fn status_holders(&self, app: &str) -> String {
        self.name("status-nodes", app, "")
    }

    /// The set of an app's users connected to a node is this followed by
    /// the node's name.
    pub(crate) fn status_users_prefix(&self, app: &str) -> String {
        self.name("status-users", app, "")
    }

    /// What every node's registry entry starts with: [`Keys::node`]
    /// without the node's name.
    pub(crate) fn node_prefix(&self) -> String {
        format!("{}:node:", self.prefix)
    }

    /// A node's registry entry, a hash (see `registry.rs`).
    pub(crate) fn node(&self, name: &str) -> String {
        format!("{}{name}", self.node_prefix())
    }

    /// The sorted set of the nodes with a registry entry.
    pub(crate) fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// The pub/sub topic every publication of the channel goes to.
    pub(crate) fn topic(&self, app: &str, channel: &str) -> String {
        self.name("topic", app, channel)
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn names_of_different_channels_never_meet() {
        let keys = Keys::new("p");
        assert_eq!(keys.topic("a", "b:c"), "p:topic:1.a:b:c");
        assert_ne!(keys.topic("a:b", "c"), keys.topic("a", "b:c"));
        assert_ne!(keys.stream("a", "c"), keys.history("a", "c"));
    }
}
