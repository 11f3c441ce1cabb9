//! The node's presence, typing and user status operations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{
    App, ChannelEvent, ChannelName, ClientHandle, ClientId, Error, Lease, LeaseKey, Member,
    MemberInfo, Namespace, Node, PresenceChange, PresenceConnection, PresenceEvent, PresencePage,
    PresenceRelay, PresenceStats, Push, SessionAdded, SharedStatus, Status, TYPING_THROTTLE, Typer,
    TypingChange, UserStatus,
};

/// How long offline users' `last_seen` is kept in memory.
const STATUS_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

impl Node {
    /// Adds a connection's lease to a channel's presence, pushing `join`
    /// when it is the user's first.
    pub async fn presence_join(
        &self,
        app: &Arc<App>,
        client: &ClientHandle,
        channel: &ChannelName,
        namespace: &Namespace,
        state: Option<Bytes>,
    ) -> Result<(), Error> {
        let lease = Lease {
            key: LeaseKey::Client(client.id),
            user: client.user_arc(),
            info: client.member_info(),
            state,
        };
        self.add_lease(app, channel, namespace, lease, namespace.presence_ttl)
            .await
    }

    /// Adds (or renews) a connection's lease as `user` with `info`, for
    /// protocols where a connection names its user per channel (Pusher's
    /// `channel_data`) rather than once at connect. Pushes `join` when it is
    /// the user's first lease; [`Node::presence_leave`] removes it.
    pub async fn presence_join_as(
        &self,
        app: &Arc<App>,
        client: ClientId,
        channel: &ChannelName,
        namespace: &Namespace,
        user: Arc<str>,
        info: Arc<MemberInfo>,
    ) -> Result<(), Error> {
        let lease = Lease {
            key: LeaseKey::Client(client),
            user,
            info,
            state: None,
        };
        self.add_lease(app, channel, namespace, lease, namespace.presence_ttl)
            .await
    }

    async fn add_lease(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
        namespace: &Namespace,
        lease: Lease,
        ttl: Duration,
    ) -> Result<(), Error> {
        let change = self.presence.add(&app.id, channel, lease, ttl).await?;
        self.counts_changed(app, channel, namespace);
        self.announce(app, channel, namespace, change);
        Ok(())
    }

    /// Joins a cluster: from now on this node sends its presence changes
    /// through `relay` and answers user status from `status`. The presence
    /// manager must be the deployment's shared one. Set once; returns false
    /// if the node joined before.
    pub fn join_cluster(
        &self,
        relay: Arc<dyn PresenceRelay>,
        status: Arc<dyn SharedStatus>,
    ) -> bool {
        self.relay.set(relay).is_ok() && self.shared_status.set(status).is_ok()
    }

    /// Sends a change to the other nodes, in a cluster.
    fn relay(&self, event: impl FnOnce() -> PresenceEvent) {
        if let Some(relay) = self.relay.get() {
            relay.relay(event());
        }
    }

    /// Tells the other nodes a channel's counts changed, where its
    /// namespace pushes them (a join or a leave tells them by itself).
    fn relay_counts(&self, app: &App, channel: &ChannelName, namespace: &Namespace) {
        if namespace.presence_stats_interval.is_some() {
            self.relay(|| PresenceEvent::Counts {
                app: app.id.clone(),
                channel: channel.clone(),
            });
        }
    }

    /// Applies a presence change another node of the cluster made: pushes
    /// it to this node's subscribers (joins and leaves through the feed,
    /// so they batch with this node's own), without telling the observer,
    /// which heard of it on the node that made it.
    pub fn apply_presence_event(&self, event: PresenceEvent) {
        let app_id = match &event {
            PresenceEvent::Joined { app, .. }
            | PresenceEvent::StateReplaced { app, .. }
            | PresenceEvent::Left { app, .. }
            | PresenceEvent::Counts { app, .. }
            | PresenceEvent::Typing { app, .. }
            | PresenceEvent::Status { app, .. } => app.clone(),
        };
        let Some(app) = self.app(&app_id) else {
            return;
        };
        match event {
            PresenceEvent::Status { status, .. } => push_status(app, &status),
            PresenceEvent::Joined {
                channel, member, ..
            } => {
                if let Ok(namespace) = app.namespace(&channel) {
                    self.counts_changed_here(app, &channel, namespace);
                    if namespace.join_leave {
                        self.feed
                            .join(app, &channel, member, namespace.presence_batch);
                    }
                }
            }
            PresenceEvent::Left { channel, user, .. } => {
                if let Ok(namespace) = app.namespace(&channel) {
                    self.counts_changed_here(app, &channel, namespace);
                    if namespace.join_leave {
                        self.feed
                            .leave(app, &channel, user, namespace.presence_batch);
                    }
                }
            }
            PresenceEvent::StateReplaced {
                channel, member, ..
            } => {
                app.hub.broadcast(&Push::PresenceUpdate {
                    channel: &channel,
                    member: &member,
                });
            }
            PresenceEvent::Counts { channel, .. } => {
                if let Ok(namespace) = app.namespace(&channel) {
                    self.counts_changed_here(app, &channel, namespace);
                }
            }
            PresenceEvent::Typing {
                channel,
                typer,
                active,
                ..
            } => {
                let Ok(namespace) = app.namespace(&channel) else {
                    return;
                };
                // The typer's node expires them and says so; this node's own
                // expiry, a throttle window later, only covers a node that
                // died meanwhile.
                let timeout = namespace.typing_timeout + TYPING_THROTTLE;
                if let TypingChange::Changed(typers) =
                    app.typing.set(&channel, typer, active, timeout)
                {
                    app.hub.broadcast(&Push::Typing {
                        channel: &channel,
                        typers: &typers,
                    });
                }
            }
        }
    }

    /// [`Node::counts_changed`] for a change made on another node: only
    /// channels with subscribers here are read again.
    fn counts_changed_here(&self, app: &App, channel: &ChannelName, namespace: &Namespace) {
        if app.hub.subscriber_count(channel) > 0 {
            self.counts_changed(app, channel, namespace);
        }
    }

    /// Marks a channel's counts as owed to its subscribers, where its
    /// namespace pushes them.
    fn counts_changed(&self, app: &App, channel: &ChannelName, namespace: &Namespace) {
        if namespace.presence_stats_interval.is_some() {
            self.live_counts
                .throttle
                .mark((app.id.clone(), channel.clone()));
        }
    }

    /// Pushes `presence_stats` to the channels whose counts changed and
    /// whose `presence_stats_interval` has passed since their last push;
    /// the others wait for a later call. The server calls it with the
    /// presence sweep.
    pub async fn push_presence_stats(&self) {
        let due = self
            .live_counts
            .throttle
            .take_due(Instant::now(), |(app, channel)| {
                self.app(app)
                    .and_then(|app| app.namespace(channel).ok())
                    .and_then(|namespace| namespace.presence_stats_interval)
                    .unwrap_or_default()
            });
        for key in due {
            let Some(app) = self.app(&key.0) else {
                continue;
            };
            match self.presence.stats(&app.id, &key.1).await {
                Ok(stats) => {
                    if self.live_counts.differs(&key, stats) {
                        app.hub.broadcast(&Push::PresenceStats {
                            channel: &key.1,
                            stats: &stats,
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(channel = %key.1, %error, "presence counts failed");
                    // Owed still: the next flush tries again.
                    self.live_counts.throttle.mark(key);
                }
            }
        }
    }

    /// Tells the channel what adding a lease changed: a join (to the
    /// observer, and through the feed where the namespace pushes joins),
    /// or a member's new state.
    fn announce(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
        namespace: &Namespace,
        change: Option<PresenceChange>,
    ) {
        match &change {
            Some(PresenceChange::Joined(member)) => self.relay(|| PresenceEvent::Joined {
                app: app.id.clone(),
                channel: channel.clone(),
                member: member.clone(),
            }),
            Some(PresenceChange::StateReplaced(member)) => {
                self.relay(|| PresenceEvent::StateReplaced {
                    app: app.id.clone(),
                    channel: channel.clone(),
                    member: member.clone(),
                });
            }
            None => self.relay_counts(app, channel, namespace),
        }
        match change {
            Some(PresenceChange::Joined(member)) => {
                self.notify(app, channel, || {
                    ChannelEvent::MemberAdded(member.user.clone())
                });
                if namespace.join_leave {
                    self.feed
                        .join(app, channel, member, namespace.presence_batch);
                }
            }
            Some(PresenceChange::StateReplaced(member)) => {
                let push = Push::PresenceUpdate {
                    channel,
                    member: &member,
                };
                app.hub.broadcast(&push);
            }
            None => {}
        }
    }

    /// Removes a connection's lease, pushing `leave` when it was the user's
    /// last.
    pub async fn presence_leave(
        &self,
        app: &Arc<App>,
        client: ClientId,
        channel: &ChannelName,
        namespace: &Namespace,
    ) {
        let removed = self
            .presence
            .remove(&app.id, channel, &LeaseKey::Client(client))
            .await;
        self.counts_changed(app, channel, namespace);
        match removed {
            Ok(Some(user)) => {
                self.relay(|| PresenceEvent::Left {
                    app: app.id.clone(),
                    channel: channel.clone(),
                    user: user.clone(),
                });
                self.notify(app, channel, || ChannelEvent::MemberRemoved(user.clone()));
                if namespace.join_leave {
                    self.feed
                        .leave(app, channel, user, namespace.presence_batch);
                }
            }
            Ok(None) => self.relay_counts(app, channel, namespace),
            Err(error) => tracing::warn!(%channel, %error, "presence remove failed"),
        }
    }

    /// Renews a live connection's leases in `channels`; a lease that
    /// expired meanwhile is added again (and the user joins again).
    ///
    /// Only channels the connection still subscribes to in the hub are
    /// renewed: when the server ends a subscription (a ban, a removal from
    /// a room, on this node or another) it removes the lease, and a
    /// renewal must not bring the user back.
    pub async fn presence_renew(
        &self,
        app: &Arc<App>,
        client: &ClientHandle,
        channels: &[ChannelName],
    ) {
        let key = LeaseKey::Client(client.id);
        for channel in channels {
            let Ok(namespace) = app.namespace(channel) else {
                continue;
            };
            if !app.hub.is_subscribed(client.id, channel) {
                continue;
            }
            let renewed = self
                .presence
                .renew(&app.id, channel, &key, namespace.presence_ttl)
                .await;
            let result = match renewed {
                Ok(true) => Ok(()),
                Ok(false) => {
                    self.presence_join(app, client, channel, namespace, None)
                        .await
                }
                Err(error) => Err(error.into()),
            };
            if let Err(error) = result {
                tracing::warn!(%channel, %error, "presence renewal failed");
            }
            if !app.hub.is_subscribed(client.id, channel) {
                // The subscription ended while the lease was renewed: its
                // end removed the lease before the renewal added it again.
                self.presence_leave(app, client.id, channel, namespace)
                    .await;
            }
        }
    }

    /// Replaces a connection's state, and with it its member's merged
    /// state, and pushes `presence_update` (not for an anonymous viewer,
    /// who is no member).
    pub async fn presence_update(
        &self,
        app: &App,
        channel: &ChannelName,
        client: ClientId,
        state: Bytes,
    ) -> Result<Option<Member>, Error> {
        let member = self
            .presence
            .set_state(&app.id, channel, &LeaseKey::Client(client), state)
            .await?;
        if let Some(member) = &member {
            app.hub.broadcast(&Push::PresenceUpdate { channel, member });
            self.relay(|| PresenceEvent::StateReplaced {
                app: app.id.clone(),
                channel: channel.clone(),
                member: member.clone(),
            });
        }
        Ok(member)
    }

    /// Keeps a heartbeat-only viewer (a client without a socket) in a
    /// channel's presence until `stale_after` past its last heartbeat. A
    /// new session is refused with [`Error::TooManySessions`] when the
    /// channel holds the namespace's `max_heartbeat_sessions` already; a
    /// known one is always renewed. The lease is keyed by its
    /// [`LeaseKey::Session`]; its `state` becomes the session's own state
    /// (and its member's merged state), `None` keeping it.
    pub async fn presence_heartbeat(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
        namespace: &Namespace,
        lease: Lease,
    ) -> Result<(), Error> {
        debug_assert!(matches!(lease.key, LeaseKey::Session(_)));
        let max = namespace.max_heartbeat_sessions;
        let added = self
            .presence
            .add_session(&app.id, channel, lease, namespace.stale_after, max)
            .await?;
        match added {
            SessionAdded::Added(change) => {
                self.counts_changed(app, channel, namespace);
                self.announce(app, channel, namespace, change);
                Ok(())
            }
            SessionAdded::Full => Err(Error::TooManySessions(max)),
        }
    }

    /// A page of a channel's members, ordered by user id.
    pub async fn presence_members(
        &self,
        app: &App,
        channel: &ChannelName,
        after: Option<&str>,
        limit: usize,
    ) -> Result<PresencePage, Error> {
        Ok(self
            .presence
            .members(&app.id, channel, after, limit)
            .await?)
    }

    /// Up to `limit` of a channel's anonymous viewers' connections, for the
    /// backend.
    pub async fn presence_anonymous(
        &self,
        app: &App,
        channel: &ChannelName,
        limit: usize,
    ) -> Result<Vec<PresenceConnection>, Error> {
        Ok(self.presence.anonymous(&app.id, channel, limit).await?)
    }

    /// A channel's presence counts.
    pub async fn presence_stats(
        &self,
        app: &App,
        channel: &ChannelName,
    ) -> Result<PresenceStats, Error> {
        Ok(self.presence.stats(&app.id, channel).await?)
    }

    /// Records a typing event and pushes the full list of typers when it
    /// changed.
    pub fn typing(
        &self,
        app: &App,
        channel: &ChannelName,
        namespace: &Namespace,
        typer: Typer,
        active: bool,
    ) -> TypingChange {
        let relayed = self.relay.get().map(|_| typer.clone());
        let change = app
            .typing
            .set(channel, typer, active, namespace.typing_timeout);
        if let TypingChange::Changed(typers) = &change {
            app.hub.broadcast(&Push::Typing { channel, typers });
        }
        // A throttled event is not sent on: the other nodes keep a remote
        // typer a throttle window longer than the timeout.
        if let Some(typer) = relayed
            && change != TypingChange::Throttled
        {
            self.relay(|| PresenceEvent::Typing {
                app: app.id.clone(),
                channel: channel.clone(),
                typer,
                active,
            });
        }
        change
    }

    /// Records that a user is away (or back) and pushes the change; in a
    /// cluster, on every node. Returns the user's status.
    pub async fn set_away(&self, app: &App, user: &Arc<str>, away: bool) -> UserStatus {
        let local = app.statuses.set_away(user, away);
        let Some(shared) = self.shared_status.get() else {
            if let Some(status) = local {
                push_status(app, &status);
            }
            return app.statuses.get(user);
        };
        match shared.set_away(&app.id, user, away).await {
            Ok((status, changed)) => {
                if changed {
                    self.status_pushed(app, &status);
                }
                status
            }
            Err(error) => {
                tracing::warn!(%error, "shared user status unavailable; answering from this node");
                app.statuses.get(user)
            }
        }
    }

    /// The statuses of `users`, in the order asked: in a cluster, as the
    /// whole deployment sees them; if the shared view cannot be read, as
    /// this node does.
    pub async fn user_statuses(&self, app: &App, users: &[String]) -> Vec<UserStatus> {
        if let Some(shared) = self.shared_status.get() {
            match shared.get(&app.id, users).await {
                Ok(statuses) => {
                    return statuses
                        .into_iter()
                        .map(|(status, changed)| {
                            if changed {
                                self.status_pushed(app, &status);
                            }
                            status
                        })
                        .collect();
                }
                Err(error) => {
                    tracing::warn!(%error, "shared user status unavailable; answering from this node");
                }
            }
        }
        users.iter().map(|user| app.statuses.get(user)).collect()
    }

    /// Pushes a change of the deployment's view of a user's status here
    /// and on the other nodes.
    fn status_pushed(&self, app: &App, status: &UserStatus) {
        push_status(app, status);
        self.relay(|| PresenceEvent::Status {
            app: app.id.clone(),
            status: status.clone(),
        });
    }

    /// Takes offline, on every node, the users held only by nodes that
    /// died (that left the node registry). The server runs it with the
    /// registry's refresh; nothing without a cluster.
    pub async fn sweep_statuses(&self) {
        let Some(shared) = self.shared_status.get() else {
            return;
        };
        for app in self.apps() {
            match shared.sweep(&app.id).await {
                Ok(changed) => {
                    for status in changed {
                        self.status_pushed(app, &status);
                    }
                }
                Err(error) => tracing::warn!(%error, "user status sweep failed"),
            }
        }
    }

    /// Takes offline, on every node, the users an earlier run of this node
    /// (under the same cluster name) left connected: it died before its
    /// registry entry expired. The server runs it before serving.
    pub async fn forget_earlier_run(&self) {
        let Some(shared) = self.shared_status.get() else {
            return;
        };
        for app in self.apps() {
            match shared.forget_earlier_run(&app.id).await {
                Ok(changed) => {
                    for status in changed {
                        self.status_pushed(app, &status);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot clear an earlier run's user statuses"),
            }
        }
    }

    /// A user came online on this node or went offline here: pushes the
    /// status; in a cluster, records it in the shared view first (in a
    /// task, in order of `version`), which says whether the deployment's
    /// status changed, and pushes that on every node.
    pub(crate) fn status_changed(&self, app: &App, status: UserStatus, version: u64) {
        let (Some(shared), Some(app)) = (self.shared_status.get(), self.app(&app.id)) else {
            push_status(app, &status);
            return;
        };
        let (shared, app, relay) = (shared.clone(), app.clone(), self.relay.get().cloned());
        tokio::spawn(async move {
            let online = status.status != Status::Offline;
            match shared
                .node_connected(&app.id, &status.user, online, version)
                .await
            {
                Ok(Some(status)) => {
                    push_status(&app, &status);
                    if let Some(relay) = relay {
                        relay.relay(PresenceEvent::Status {
                            app: app.id.clone(),
                            status,
                        });
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(user = %status.user, %error, "cannot record user status; pushing this node's view");
                    push_status(&app, &status);
                }
            }
        });
    }

    /// Expires presence leases and typers, pushing the leaves and the new
    /// typer lists, then the live counts owed ([`Node::push_presence_stats`]).
    /// The server runs it periodically; nothing else removes a lease whose
    /// holder vanished.
    pub async fn sweep_presence(&self) {
        match self.presence.expire().await {
            Ok(expired) => {
                for expired in expired {
                    metrics::counter!("parley_presence_leases_expired_total")
                        .increment(expired.leases as u64);
                    let Some(app) = self.app(&expired.app) else {
                        continue;
                    };
                    let Ok(namespace) = app.namespace(&expired.channel) else {
                        continue;
                    };
                    self.counts_changed(app, &expired.channel, namespace);
                    if expired.left.is_empty() {
                        self.relay_counts(app, &expired.channel, namespace);
                    }
                    for user in expired.left {
                        self.relay(|| PresenceEvent::Left {
                            app: app.id.clone(),
                            channel: expired.channel.clone(),
                            user: user.clone(),
                        });
                        self.notify(app, &expired.channel, || {
                            ChannelEvent::MemberRemoved(user.clone())
                        });
                        if namespace.join_leave {
                            self.feed
                                .leave(app, &expired.channel, user, namespace.presence_batch);
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "presence expiry failed"),
        }
        for app in self.apps() {
            for expired in app.typing.expire() {
                app.hub.broadcast(&Push::Typing {
                    channel: &expired.channel,
                    typers: &expired.typers,
                });
                for typer in expired.gone {
                    self.relay(|| PresenceEvent::Typing {
                        app: app.id.clone(),
                        channel: expired.channel.clone(),
                        typer,
                        active: false,
                    });
                }
            }
            app.statuses.sweep(STATUS_RETENTION);
        }
        self.feed.prune(Duration::from_secs(60));
        self.push_presence_stats().await;
    }
}

/// Pushes a status change on the user's status channels of this node.
fn push_status(app: &App, status: &UserStatus) {
    for namespace in app.status_namespaces() {
        let name = if namespace.name == Namespace::DEFAULT {
            status.user.to_string()
        } else {
            format!("{}:{}", namespace.name, status.user)
        };
        if let Ok(channel) = ChannelName::new(&name) {
            app.hub.broadcast(&Push::UserStatus {
                channel: &channel,
                status,
            });
        }
    }
}
