//! Presence across nodes: the changes one node tells the others of, and
//! the deployment's shared view of user status.
//!
//! On a single node neither is set and the node pushes its own changes.
//! In a cluster, the presence leases live in a shared
//! [`PresenceManager`](crate::PresenceManager), and the node that caused a
//! change (a join, a leave, a new state, an expiry found by its sweep, a
//! typing event, a status change) pushes it to its subscribers and sends
//! it through the [`PresenceRelay`]; every other node hands it to
//! [`Node::apply_presence_event`](crate::Node::apply_presence_event), which
//! pushes it to its own subscribers. Observers (webhooks) hear a change on
//! the node that caused it only, so a deployment fires each once.

use std::sync::Arc;

use crate::{BackendError, BoxFuture, ChannelName, Member, Typer, UserStatus};

/// A presence change, as the node that caused it tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceEvent {
    /// A user's first lease in the channel: they joined.
    Joined {
        /// The app.
        app: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// The member, as the shared presence holds them.
        member: Member,
    },
    /// A present member's state changed.
    StateReplaced {
        /// The app.
        app: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// The member with their new state.
        member: Member,
    },
    /// A user's last lease in the channel ended: they left.
    Left {
        /// The app.
        app: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// The user.
        user: Arc<str>,
    },
    /// The channel's counts changed without a join or a leave (an
    /// anonymous viewer, a second tab).
    Counts {
        /// The app.
        app: Arc<str>,
        /// The channel.
        channel: ChannelName,
    },
    /// A user started or stopped typing (or typed on).
    Typing {
        /// The app.
        app: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// Who.
        typer: Typer,
        /// Typing, or stopped.
        active: bool,
    },
    /// A user's status across the deployment changed.
    Status {
        /// The app.
        app: Arc<str>,
        /// The new status.
        status: UserStatus,
    },
}

/// Carries this node's presence changes to the other nodes.
pub trait PresenceRelay: Send + Sync + 'static {
    /// Sends `event` to every other node, after the events sent before it.
    /// Never waits: a relay that cannot keep up drops events and says so
    /// in its log.
    fn relay(&self, event: PresenceEvent);
}

/// A user's status as the whole deployment sees it (online on some node,
/// away, or offline since a time), kept where every node reads it.
pub trait SharedStatus: Send + Sync + 'static {
    /// Records that `user` is (`online`) or is no longer connected to this
    /// node, as of this node's change number `version`: a record older than
    /// the one kept is ignored, so records may arrive in any order. Returns
    /// the user's deployment-wide status when it changed.
    fn node_connected<'a>(
        &'a self,
        app: &'a str,
        user: &'a str,
        online: bool,
        version: u64,
    ) -> BoxFuture<'a, Result<Option<UserStatus>, BackendError>>;

    /// Records that a client reported the user away (or back). Returns
    /// their status and whether it changed; a user connected nowhere stays
    /// offline.
    fn set_away<'a>(
        &'a self,
        app: &'a str,
        user: &'a str,
        away: bool,
    ) -> BoxFuture<'a, Result<(UserStatus, bool), BackendError>>;

    /// The users' statuses, in the order asked, each with whether this
    /// read changed it (it found the user's last node dead: the caller
    /// reports that they went offline).
    fn get<'a>(
        &'a self,
        app: &'a str,
        users: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(UserStatus, bool)>, BackendError>>;

    /// Takes offline the users held by nodes that died; returns the
    /// statuses that changed, each reported by one node only.
    fn sweep<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Vec<UserStatus>, BackendError>>;

    /// Forgets the users an earlier run of this node (under the same name)
    /// left connected, as a node starting does before it serves; returns
    /// the statuses that changed.
    fn forget_earlier_run<'a>(
        &'a self,
        app: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserStatus>, BackendError>>;
}
