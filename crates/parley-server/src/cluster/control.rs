//! Control actions: commands about a user's connections that must reach
//! the user wherever they are connected.
//!
//! Every control action goes through [`Control::act`]: it applies the
//! action to this node's connections and, in a cluster, sends it on the
//! control topic, where every other node applies it too
//! ([`RemoteControl`]). No caller touches the hub's connections for these
//! actions itself, so none can forget the other nodes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parley_cluster::ControlHandler;
use parley_core::{BoxFuture, ChannelName, Disconnect, EncoderId, Node};
use parley_store::{RestrictionInForce, Timestamp};
use serde::{Deserialize, Serialize};

use super::Cluster;
use crate::pusher::PusherState;
use crate::state::AppContext;

/// A command about an app's connections: mostly one user's, or what
/// every node tells its Pusher connections (counts, watchlists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ControlAction {
    /// Close every connection of the user with [`Disconnect::Forced`]
    /// (4003 for native clients). With `signed_in`, Pusher connections
    /// signed in as the user (`pusher:signin`) close too.
    DisconnectUser {
        /// The user.
        user: String,
        /// Whether Pusher connections signed in as the user close too.
        #[serde(default)]
        signed_in: bool,
    },
    /// End the user's subscriptions to a channel: each connection leaves
    /// the channel (and its presence). With a `notice`, native
    /// connections get an `unsubscribed` push with it as the reason.
    EndSubscription {
        /// The user.
        user: String,
        /// The channel.
        channel: String,
        /// The reason pushed to native connections, if any.
        #[serde(default)]
        notice: Option<String>,
    },
    /// Replace the user's mutes and bans in the app's restriction book
    /// (`None`: not known, checks read the store). Applied on every node,
    /// the user connected there or not, so no node keeps an older list.
    SetRestrictions {
        /// The restricted (or no longer restricted) user.
        user: String,
        /// Every mute and ban of the user in force now.
        restrictions: Option<Vec<SharedRestriction>>,
    },
    /// Replace the user's block list in the hub, which filters what the
    /// user receives.
    SetBlocks {
        /// The blocking user.
        user: String,
        /// Everyone the user blocks now.
        blocked: Vec<String>,
    },
    /// The deployment's subscriber counts of channels of an app that
    /// counts subscriptions (Pusher's `subscription_count`), as the
    /// cluster's occupancy last wrote them; each node pushes them to its
    /// own subscribers of those channels.
    SubscriptionCounts {
        /// Each channel with its count (zero: no subscribers left).
        counts: Vec<(String, u64)>,
    },
    /// Pusher users who came online (their first signed-in connection on
    /// the deployment) or went offline (their last one ended), as the
    /// cluster's occupancy decided; each node tells its watchers.
    Watchlist {
        /// Users now online.
        online: Vec<String>,
        /// Users now offline.
        offline: Vec<String>,
    },
}

/// A mute or ban in force, as [`ControlAction::SetRestrictions`] carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRestriction {
    /// `mute`, `ban` or `shadow_mute`.
    pub kind: String,
    /// The channel; none for the whole app.
    #[serde(default)]
    pub channel: Option<String>,
    /// When it ends, in milliseconds since the epoch; none for no timeout.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl From<&RestrictionInForce> for SharedRestriction {
    fn from(restriction: &RestrictionInForce) -> Self {
        Self {
            kind: restriction.kind.as_str().to_owned(),
            channel: restriction.channel.as_ref().map(ToString::to_string),
            expires_at: restriction.expires_at.map(Timestamp::as_millis),
        }
    }
}

impl SharedRestriction {
    /// Back into a restriction in force; `None` for one this node cannot
    /// read (an unknown kind or an invalid channel).
    fn in_force(&self) -> Option<RestrictionInForce> {
        Some(RestrictionInForce {
            kind: self.kind.parse().ok()?,
            channel: match &self.channel {
                Some(channel) => Some(ChannelName::new(channel).ok()?),
                None => None,
            },
            expires_at: self.expires_at.map(Timestamp::from_millis),
        })
    }
}

/// A control action as it travels on the control topic.
#[derive(Debug, Serialize, Deserialize)]
struct ControlMessage {
    app: String,
    #[serde(flatten)]
    action: ControlAction,
}

/// Whether a control action reached the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherNodes {
    /// No cluster: this node is the whole deployment.
    None,
    /// Sent on the control topic; every node listening applies it.
    Notified,
    /// Redis could not be reached: only this node applied it.
    Unreachable,
}

impl OtherNodes {
    /// How HTTP answers say it (`"other_nodes"`); nothing without a
    /// cluster.
    pub fn as_field(self) -> Option<&'static str> {
        match self {
            OtherNodes::None => None,
            OtherNodes::Notified => Some("notified"),
            OtherNodes::Unreachable => Some("unreachable"),
        }
    }
}

/// What a control action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// This node's connections it applied to.
    pub local: usize,
    /// Whether the other nodes were told.
    pub other_nodes: OtherNodes,
}

/// Where an action is being applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// On the node that took the request.
    Here,
    /// On another node, from the control topic.
    FromOtherNode,
}

/// What control actions reach: this node's connections (through the node,
/// and the Pusher sign-ins and subscription counts) and, in a cluster, the
/// control topic.
#[derive(Clone)]
pub struct Control {
    node: Arc<Node>,
    /// The native protocol's encoder: its connections get the
    /// `unsubscribed` push when the server ends a subscription.
    native: EncoderId,
    pusher: Arc<PusherState>,
    cluster: Option<Arc<Cluster>>,
}

impl Control {
    /// Control over `node`'s connections (`native` names the encoder of
    /// its native ones) and its Pusher state (`pusher`: sign-ins,
    /// subscription counts); with a `cluster`, over the other nodes' too.
    pub fn new(
        node: Arc<Node>,
        native: EncoderId,
        pusher: Arc<PusherState>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        Self {
            node,
            native,
            pusher,
            cluster,
        }
    }

    /// The cluster this node is part of, with `broker = "redis"`.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Applies `action` here, then, in a cluster, sends it to the other
    /// nodes. A failure to reach Redis is logged and reported in the
    /// result; the local action has happened either way.
    pub async fn act(&self, app: &AppContext, action: ControlAction) -> Reach {
        let local = self.apply(app, &action, Applied::Here).await;
        let Some(cluster) = &self.cluster else {
            return Reach {
                local,
                other_nodes: OtherNodes::None,
            };
        };
        let message = ControlMessage {
            app: app.app.id.to_string(),
            action,
        };
        let payload = match serde_json::to_vec(&message) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "cannot encode a control message");
                return Reach {
                    local,
                    other_nodes: OtherNodes::Unreachable,
                };
            }
        };
        let other_nodes = match cluster.bus.publish(&payload).await {
            Ok(_) => OtherNodes::Notified,
            Err(error) => {
                tracing::warn!(
                    node = %cluster.node(),
                    app = %app.app.id,
                    action = ?message.action,
                    %error,
                    "control action applied on this node only: the other nodes were not reached"
                );
                OtherNodes::Unreachable
            }
        };
        Reach { local, other_nodes }
    }

    /// Applies `action` to this node's connections; returns how many it
    /// applied to.
    async fn apply(&self, app: &AppContext, action: &ControlAction, applied: Applied) -> usize {
        match action {
            ControlAction::DisconnectUser { user, signed_in } => {
                let mut closed = 0;
                if *signed_in {
                    for client in self.pusher.users.connections(&app.app.id, user) {
                        client.disconnect(Disconnect::Forced);
                        closed += 1;
                    }
                }
                closed
                    + self
                        .node
                        .disconnect_user(&app.app, user, Disconnect::Forced)
            }
            ControlAction::EndSubscription {
                user,
                channel,
                notice,
            } => {
                let Ok(channel) = ChannelName::new(channel) else {
                    tracing::warn!(%channel, "control message names an invalid channel; skipped");
                    return 0;
                };
                self.end_subscription(app, user, &channel, notice.as_deref())
                    .await
            }
            ControlAction::SetRestrictions { user, restrictions } => {
                let restrictions = restrictions.as_ref().and_then(|list| {
                    list.iter()
                        .map(SharedRestriction::in_force)
                        .collect::<Option<Vec<_>>>()
                });
                app.restrictions
                    .changed(Arc::from(user.as_str()), restrictions);
                app.app.hub.user_clients(user).len()
            }
            ControlAction::SetBlocks { user, blocked } => {
                let clients = app.app.hub.user_clients(user).len();
                // Another node's list matters here only while the user is
                // connected here; a later connect loads it from the store.
                if applied == Applied::Here || clients > 0 {
                    let blocked = blocked
                        .iter()
                        .map(|user| Arc::from(user.as_str()))
                        .collect();
                    app.app.hub.blocks().set(Arc::from(user.as_str()), blocked);
                }
                clients
            }
            ControlAction::SubscriptionCounts { counts } => {
                self.pusher
                    .subscription_counts
                    .set_totals(&app.app.id, counts);
                0
            }
            ControlAction::Watchlist { online, offline } => {
                self.pusher
                    .users
                    .tell_watchers(&app.app.id, online, offline);
                0
            }
        }
    }

    /// Unsubscribes every connection of `user` on this node from `channel`,
    /// with the presence leave, and pushes `unsubscribed` with `notice` to
    /// native ones.
    async fn end_subscription(
        &self,
        app: &AppContext,
        user: &str,
        channel: &ChannelName,
        notice: Option<&str>,
    ) -> usize {
        let namespace = app.app.namespace(channel).ok();
        let mut ended = 0;
        for client in app.app.hub.user_clients(user) {
            if !self.node.unsubscribe(&app.app, client.id, channel).await {
                continue;
            }
            ended += 1;
            if let Some(namespace) = namespace.filter(|namespace| namespace.presence) {
                self.node
                    .presence_leave(&app.app, client.id, channel, namespace)
                    .await;
            }
            if let Some(notice) = notice
                && client.encoder().id() == self.native
            {
                // A refused push means the connection is closing anyway.
                let _ = client.send(crate::native::moderation::unsubscribed_frame(
                    channel, notice,
                ));
            }
        }
        ended
    }
}

/// Applies the control actions other nodes send. The server owns the
/// listener that owns this handler, and dropping the listener ends its
/// task, so the handler holds what it uses outright.
pub struct RemoteControl {
    control: Control,
    /// The apps this node serves, by id.
    apps: HashMap<String, Arc<AppContext>>,
}

impl RemoteControl {
    /// A handler applying actions through `control` to the connections of
    /// `apps`.
    pub fn new(control: Control, apps: HashMap<String, Arc<AppContext>>) -> Self {
        Self { control, apps }
    }
}

impl ControlHandler for RemoteControl {
    fn apply(&self, payload: Bytes) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let message: ControlMessage = match serde_json::from_slice(&payload) {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "unreadable control message; skipped");
                    return;
                }
            };
            let Some(app) = self.apps.get(&message.app) else {
                tracing::debug!(app = %message.app, "control message for an app this node does not serve");
                return;
            };
            let applied = self
                .control
                .apply(app, &message.action, Applied::FromOtherNode)
                .await;
            tracing::debug!(app = %message.app, action = ?message.action, applied, "applied a control action from another node");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ControlAction, ControlMessage};

    #[test]
    fn a_message_reads_back_as_written() {
        let message = ControlMessage {
            app: "main".into(),
            action: ControlAction::EndSubscription {
                user: "42".into(),
                channel: "talk:room-1".into(),
                notice: Some("banned".into()),
            },
        };
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(
            text,
            r#"{"app":"main","action":"end_subscription","user":"42","channel":"talk:room-1","notice":"banned"}"#
        );
        let back: ControlMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back.action, message.action);
        assert!(serde_json::from_str::<ControlMessage>(r#"{"app":"a","action":"nope"}"#).is_err());
    }
}
