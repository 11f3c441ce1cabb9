//! `PusherState`: what Pusher connections and the Pusher HTTP API share
//! beyond the core: signed-in users, the event cache and the subscription
//! counts owed to subscribers.

use std::sync::Arc;

use super::cache::EventCache;
use super::subscription_count::SubscriptionCounts;
use super::users::SignedInUsers;

/// Server-wide Pusher state.
pub struct PusherState {
    /// Signed-in connections and watchlists; shared with cluster control,
    /// which disconnects a user's signed-in connections.
    pub users: Arc<SignedInUsers>,
    /// The last event of each cache channel.
    pub cache: EventCache,
    /// Channels whose subscribers are owed `subscription_count`; also one
    /// of the node's channel observers.
    pub subscription_counts: Arc<SubscriptionCounts>,
}

impl PusherState {
    /// No sign-ins and no cached events yet: `users` books sign-ins,
    /// `cache` keeps cached events (in this process, or for the deployment
    /// with several nodes), `subscription_counts` holds the counts owed.
    pub fn new(
        users: SignedInUsers,
        cache: EventCache,
        subscription_counts: Arc<SubscriptionCounts>,
    ) -> Self {
        Self {
            users: Arc::new(users),
            cache,
            subscription_counts,
        }
    }
}
