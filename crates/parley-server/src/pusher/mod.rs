//! Pusher Channels protocol 7: pusher-js, Laravel Echo and the other Pusher
//! clients connect at `/app/{key}` and share the core with native clients.
//!
//! - [`codes`]: `pusher:error` codes and close codes.
//! - [`sign`]: HMAC-SHA256 signatures of channel auth.
//! - [`push`]: the [`PusherEncoder`], every `Push` as a Pusher event.
//! - [`incoming`]: a client's text frame parsed into a typed message.
//! - [`session`]: one connection's state and frame loop, which dispatches
//!   to `subscriptions` (subscribe with signed auth, presence from
//!   `channel_data`, unsubscribe), `signin` and `client_events`.
//! - [`upgrade`]: the `/app/{key}` upgrade and its query checks.
//! - `signin`: user authentication (`pusher:signin`), the
//!   `#server-to-user-{id}` channel; [`users`]: signed-in connections and
//!   watchlists; [`cache`]: the last event of `cache-` channels;
//!   [`subscription_count`]: `pusher_internal:subscription_count` pushes;
//!   [`state`]: all three, shared server-wide.
//! - [`http_api`]: the Pusher HTTP API on `/apps/{app_id}/...`, whose
//!   handlers take a [`signed_request::SignedRequest`].
//!
//! Pusher channel names map one to one onto Parley channel names (they
//! never hold `:`, so they sit in the default namespace), and a Pusher event
//! is a Parley publication whose data is `{"event": name, "data": ...}`.
//! `docs/pusher.md` is the user-facing description.

pub mod cache;
mod client_events;
pub mod codes;
pub mod http_api;
pub mod incoming;
pub mod push;
pub mod session;
pub mod sign;
pub mod signed_request;
mod signin;
pub mod state;
pub mod subscription_count;
mod subscriptions;
pub mod upgrade;
pub mod users;

pub use push::PusherEncoder;
pub use session::PusherSession;
pub use state::PusherState;
