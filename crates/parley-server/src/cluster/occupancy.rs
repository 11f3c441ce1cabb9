//! Channel occupancy across the nodes of a cluster: this node's subscriber
//! count of each channel, written to Redis ([`Occupancy`]), where the
//! deployment's totals answer the channel listings and decide when a
//! channel is occupied or vacated for webhooks, once for the deployment.
//!
//! The node's observer only marks a channel whose local count changed; a
//! task ([`keep_counts`]) writes the marked channels' counts as the hub
//! holds them when it gets to them (a batch per round trip), so a burst of
//! subscriptions costs a few writes, and a count is never written out of
//! order. The same task refreshes this node's liveness, sweeps dead
//! nodes' counts and releases held-back vacated channels. Pusher's
//! subscription counts ride along: the new totals of counting apps go to
//! every node on the control topic, and the `subscription_count` webhook
//! reports them.
//!
//! Pusher's signed-in users are counted the same way (a user with a
//! signed-in connection on any node is online): the session marks a user
//! whose sign-ins changed here, and when the deployment's count of a user
//! crosses zero, every node tells its watchers `online` or `offline`
//! ([`ControlAction::Watchlist`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use parley_cluster::{AppChannel, CountWrite, Occupancy, RedisOptions, Transition};
use parley_core::{BackendError, ChannelEvent, ChannelName, ChannelObserver};
use tokio::sync::Notify;

use super::control::ControlAction;
use crate::state::ServerState;
use crate::webhooks::WebhookEvent;

/// How often held-back vacated channels whose time has come are looked
/// for.
const RELEASE_INTERVAL: Duration = Duration::from_millis(250);

/// This node's channel and sign-in counts in the cluster.
pub struct ClusterOccupancy {
    /// The deployment's channel counts in Redis.
    pub channels: Occupancy,
    /// The deployment's signed-in Pusher users in Redis.
    pub signins: Occupancy,
    /// Channels and users whose local count changed since it was last
    /// written.
    dirty: Mutex<Marked>,
    /// Wakes the writing task.
    wake: Notify,
}

/// What is waiting to be written.
#[derive(Default)]
struct Marked {
    channels: HashSet<(Arc<str>, ChannelName)>,
    users: HashSet<(Arc<str>, Arc<str>)>,
}

impl ClusterOccupancy {
    /// Connects to the deployment's Redis; this node's counts live
    /// `node_ttl` past each write or refresh.
    pub async fn connect(options: &RedisOptions, node_ttl: Duration) -> Result<Self, BackendError> {
        Ok(Self {
            channels: Occupancy::connect(options, "occupancy", node_ttl).await?,
            signins: Occupancy::connect(options, "signins", node_ttl).await?,
            dirty: Mutex::default(),
            wake: Notify::new(),
        })
    }

    fn mark(&self, app: Arc<str>, channel: ChannelName) {
        self.dirty.lock().channels.insert((app, channel));
        self.wake.notify_one();
    }

    /// Marks `user` of `app`, whose signed-in connections on this node
    /// changed.
    pub fn mark_signin(&self, app: Arc<str>, user: Arc<str>) {
        self.dirty.lock().users.insert((app, user));
        self.wake.notify_one();
    }
}

impl ChannelObserver for ClusterOccupancy {
    fn on_channel_event(&self, app: &str, channel: &ChannelName, event: ChannelEvent) {
        if let ChannelEvent::SubscriptionCount(_) = event {
            self.mark(Arc::from(app), channel.clone());
        }
    }
}

/// Writes this node's counts until shutdown: the marked channels' as they
/// change, all of them when Redis had taken the node for dead. At start it
/// drops what an earlier run under the same name left. Without a cluster
/// there is nothing to keep.
pub async fn keep_counts(state: Arc<ServerState>) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let occupancy = &cluster.occupancy;
    forget(&state).await;
    mark_all(&state);
    let releases = state.webhooks.is_enabled();
    let mut refresh = tokio::time::interval(cluster.refresh);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut release = tokio::time::interval(RELEASE_INTERVAL);
    release.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = occupancy.wake.notified() => {}
            _ = refresh.tick() => upkeep(&state).await,
            _ = release.tick(), if releases => match occupancy.channels.release().await {
                Ok(vacated) => report_vacated(&state, vacated),
                Err(error) => tracing::debug!(%error, "cannot release held vacated channels"),
            },
        }
        write_marked(&state).await;
    }
}

/// At a clean stop, once the connections are closed: drops this node's
/// counts, reporting the channels only it held as vacated and the users
/// only it held as offline.
pub async fn finish(state: &ServerState) {
    forget(state).await;
}

/// Drops this node's counts from the deployment's, reporting the channels
/// only it held as vacated and the users only it held as offline.
async fn forget(state: &ServerState) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    match cluster.occupancy.channels.forget().await {
        Ok(vacated) => report_vacated(state, vacated),
        Err(error) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot drop this node's channel counts; they age out");
        }
    }
    match cluster.occupancy.signins.forget().await {
        Ok(offline) => report_offline(state, offline).await,
        Err(error) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot drop this node's sign-ins; they age out");
        }
    }
}

/// Refreshes this node's liveness (writing every count again when it had
/// lapsed) and takes dead nodes' counts out of the totals.
async fn upkeep(state: &ServerState) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let occupancy = &cluster.occupancy;
    match (
        occupancy.channels.refresh().await,
        occupancy.signins.refresh().await,
    ) {
        (Ok(true), Ok(true)) => {}
        (Ok(_), Ok(_)) => mark_all(state),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot refresh this node's counts");
            return;
        }
    }
    match occupancy.channels.sweep().await {
        Ok(vacated) => report_vacated(state, vacated),
        Err(error) => tracing::warn!(%error, "cannot sweep dead nodes' channel counts"),
    }
    match occupancy.signins.sweep().await {
        Ok(offline) => report_offline(state, offline).await,
        Err(error) => tracing::warn!(%error, "cannot sweep dead nodes' sign-ins"),
    }
}

/// Marks every channel with local subscribers and every user signed in
/// here.
fn mark_all(state: &ServerState) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    for app in state.node.apps() {
        for summary in app.hub.channels("") {
            cluster.occupancy.mark(app.id.clone(), summary.name);
        }
    }
    for (app, user) in state.pusher.users.signed_in() {
        cluster.occupancy.mark_signin(app, user);
    }
}

/// Writes the marked channels' and users' local counts; a write that
/// fails marks them again, for the next round.
async fn write_marked(state: &ServerState) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let marked = std::mem::take(&mut *cluster.occupancy.dirty.lock());
    if !marked.channels.is_empty() {
        write_channels(state, cluster, marked.channels.into_iter().collect()).await;
    }
    if !marked.users.is_empty() {
        write_signins(state, cluster, marked.users.into_iter().collect()).await;
    }
}

async fn write_channels(
    state: &ServerState,
    cluster: &super::Cluster,
    marked: Vec<(Arc<str>, ChannelName)>,
) {
    let writes: Vec<CountWrite> = marked
        .iter()
        .map(|(app, channel)| CountWrite {
            app: app.to_string(),
            name: channel.to_string(),
            count: state
                .node
                .app(app)
                .map_or(0, |app| app.hub.subscriber_count(channel)) as u64,
            hold_back: state.webhooks.occupancy_hold_back(app),
        })
        .collect();
    let recorded = match cluster.occupancy.channels.record(&writes).await {
        Ok(recorded) => recorded,
        Err(error) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot write channel counts; trying again");
            cluster.occupancy.dirty.lock().channels.extend(marked);
            return;
        }
    };
    if !recorded.was_alive {
        mark_all(state);
    }
    let mut counted: HashMap<Arc<str>, Vec<(String, u64)>> = HashMap::new();
    for ((app, channel), (transition, total)) in marked.into_iter().zip(recorded.totals) {
        match transition {
            Transition::Occupied => report(
                state,
                &app,
                WebhookEvent::ChannelOccupied {
                    channel: channel.to_string(),
                },
            ),
            Transition::Vacated => report(
                state,
                &app,
                WebhookEvent::ChannelVacated {
                    channel: channel.to_string(),
                },
            ),
            Transition::None => {}
        }
        if state.webhooks.wants(&app, "subscription_count") {
            report(
                state,
                &app,
                WebhookEvent::SubscriptionCount {
                    channel: channel.to_string(),
                    subscription_count: usize::try_from(total).unwrap_or(usize::MAX),
                },
            );
        }
        if state.pusher.subscription_counts.counts(&app) {
            counted
                .entry(app)
                .or_default()
                .push((channel.to_string(), total));
        }
    }
    for (app, counts) in counted {
        act(state, &app, ControlAction::SubscriptionCounts { counts }).await;
    }
}

async fn write_signins(
    state: &ServerState,
    cluster: &super::Cluster,
    marked: Vec<(Arc<str>, Arc<str>)>,
) {
    let writes: Vec<CountWrite> = marked
        .iter()
        .map(|(app, user)| CountWrite {
            app: app.to_string(),
            name: user.to_string(),
            count: state.pusher.users.connections(app, user).len() as u64,
            hold_back: Duration::ZERO,
        })
        .collect();
    let recorded = match cluster.occupancy.signins.record(&writes).await {
        Ok(recorded) => recorded,
        Err(error) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot write sign-ins; trying again");
            cluster.occupancy.dirty.lock().users.extend(marked);
            return;
        }
    };
    if !recorded.was_alive {
        mark_all(state);
    }
    let mut changed: HashMap<Arc<str>, (Vec<String>, Vec<String>)> = HashMap::new();
    for ((app, user), (transition, _)) in marked.into_iter().zip(recorded.totals) {
        match transition {
            Transition::Occupied => changed.entry(app).or_default().0.push(user.to_string()),
            Transition::Vacated => changed.entry(app).or_default().1.push(user.to_string()),
            Transition::None => {}
        }
    }
    for (app, (online, offline)) in changed {
        act(state, &app, ControlAction::Watchlist { online, offline }).await;
    }
}

/// Tells every node's watchers that `offline` users (as app, user pairs)
/// went offline.
async fn report_offline(state: &ServerState, offline: Vec<AppChannel>) {
    let mut by_app: HashMap<String, Vec<String>> = HashMap::new();
    for (app, user) in offline {
        by_app.entry(app).or_default().push(user);
    }
    for (app, offline) in by_app {
        let action = ControlAction::Watchlist {
            online: Vec::new(),
            offline,
        };
        act(state, &app, action).await;
    }
}

/// Applies `action` here and on every other node.
async fn act(state: &ServerState, app: &str, action: ControlAction) {
    if let Some(context) = state.apps.get(app) {
        state.chat.control().act(context, action).await;
    }
}

fn report_vacated(state: &ServerState, vacated: Vec<AppChannel>) {
    for (app, channel) in vacated {
        report(state, &app, WebhookEvent::ChannelVacated { channel });
    }
}

/// Sends a decided occupancy webhook, unless the channel is a user's own
/// (`#server-to-user-…`), which is no channel to the app's backend.
fn report(state: &ServerState, app: &str, event: WebhookEvent) {
    if event.channel().starts_with('#') {
        return;
    }
    state.webhooks.emit_decided(app, event);
}

/// `app`'s channels whose names start with `prefix`, with their
/// subscribers, sorted by name: on the whole deployment with a `cluster`,
/// on this node without.
pub async fn channel_counts(
    cluster: Option<&super::Cluster>,
    app: &parley_core::App,
    prefix: &str,
) -> Result<Vec<(String, usize)>, BackendError> {
    match cluster {
        Some(cluster) => Ok(cluster
            .occupancy
            .channels
            .list(&app.id, prefix)
            .await?
            .into_iter()
            .map(|(channel, total)| (channel, usize::try_from(total).unwrap_or(usize::MAX)))
            .collect()),
        None => Ok(app
            .hub
            .channels(prefix)
            .into_iter()
            .map(|summary| (summary.name.to_string(), summary.subscribers))
            .collect()),
    }
}

/// The subscribers of each of `channels` of `app`, in order: on the whole
/// deployment with a `cluster`, on this node without.
pub async fn subscriber_counts(
    cluster: Option<&super::Cluster>,
    app: &parley_core::App,
    channels: &[&ChannelName],
) -> Result<Vec<usize>, BackendError> {
    match cluster {
        Some(cluster) => {
            let names: Vec<&str> = channels.iter().map(|channel| channel.as_str()).collect();
            Ok(cluster
                .occupancy
                .channels
                .totals(&app.id, &names)
                .await?
                .into_iter()
                .map(|total| usize::try_from(total).unwrap_or(usize::MAX))
                .collect())
        }
        None => Ok(channels
            .iter()
            .map(|channel| app.hub.subscriber_count(channel))
            .collect()),
    }
}
