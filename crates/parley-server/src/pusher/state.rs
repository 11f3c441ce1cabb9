//! `PusherState`: what Pusher connections and the Pusher HTTP API share
//! beyond the core: signed-in users and the event cache.

use super::cache::EventCache;
use super::users::SignedInUsers;

/// Server-wide Pusher state.
#[derive(Default)]
pub struct PusherState {
    /// Signed-in connections and watchlists.
    pub users: SignedInUsers,
    /// The last event of each cache channel.
    pub cache: EventCache,
}
