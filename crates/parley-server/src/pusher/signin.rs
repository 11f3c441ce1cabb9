//! User authentication (`pusher:signin`): a connection signs in as a user
//! with `auth = key:hex(HMAC-SHA256(secret, "socket_id::user::user_data"))`,
//! then receives what is sent to `#server-to-user-{id}` and the online
//! status of the users on its watchlist.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::codes;
use super::push::internal_event;
use super::session::PusherSession;
use super::sign;
use super::users::watchlist_frame;
use crate::cluster::Cluster;

/// The channel of a signed-in user's server-to-user events.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// Users a watchlist may hold, as Pusher allows.
const MAX_WATCHLIST: usize = 100;

/// Who a connection signed in as.
pub(super) struct SignedIn {
    pub(super) user: Arc<str>,
    pub(super) watchlist: Vec<Arc<str>>,
}

#[derive(Deserialize)]
struct SigninData {
    auth: String,
    user_data: String,
}

#[derive(Deserialize)]
struct UserData {
    id: serde_json::Value,
    #[serde(default)]
    watchlist: Vec<String>,
}

#[derive(Serialize)]
struct SigninSuccess<'a> {
    user_data: &'a str,
}

impl PusherSession {
    /// Handles `pusher:signin`. A bad request gets `pusher:error` 4009 and
    /// the connection stays open (and unsigned).
    pub(super) async fn signin(&mut self, data: Option<&RawValue>) {
        let signed_in = match self.try_signin(data) {
            Ok(signed_in) => signed_in,
            Err(message) => return self.error(Some(codes::UNAUTHORIZED), message),
        };
        let app = &self.app.app.id;
        self.server
            .pusher
            .users
            .sign_in(app, &signed_in.user, &self.client, &signed_in.watchlist);
        if let Some(cluster) = &self.server.cluster {
            // The deployment decides who is online: this sign-in is
            // counted, and the watchlist's state read, in Redis.
            cluster
                .occupancy
                .mark_signin(app.clone(), signed_in.user.clone());
            if !signed_in.watchlist.is_empty() {
                self.send_watchlist_state(cluster, &signed_in.watchlist)
                    .await;
            }
        }
        self.signed_in = Some(signed_in);
    }

    /// Tells the connection which users of its watchlist are signed in on
    /// any node; when Redis does not answer, all of them count as offline.
    async fn send_watchlist_state(&self, cluster: &Cluster, watchlist: &[Arc<str>]) {
        let names: Vec<&str> = watchlist.iter().map(|user| &**user).collect();
        let totals = match cluster
            .occupancy
            .signins
            .totals(&self.app.app.id, &names)
            .await
        {
            Ok(totals) => totals,
            Err(error) => {
                tracing::warn!(%error, "cannot read the watchlist's sign-ins");
                vec![0; names.len()]
            }
        };
        let (online, offline): (Vec<_>, Vec<_>) =
            names.iter().zip(totals).partition(|(_, total)| *total > 0);
        let online: Vec<&str> = online.into_iter().map(|(user, _)| *user).collect();
        let offline: Vec<&str> = offline.into_iter().map(|(user, _)| *user).collect();
        self.send(watchlist_frame(&online, &offline));
    }

    fn try_signin(&mut self, data: Option<&RawValue>) -> Result<SignedIn, &'static str> {
        if self.signed_in.is_some() {
            return Err("already signed in");
        }
        let data: SigninData =
            super::incoming::object(data).ok_or("pusher:signin needs auth and user_data")?;
        let (auth_key, signature) = data.auth.split_once(':').ok_or("invalid auth")?;
        let message = format!("{}::user::{}", self.socket_id, data.user_data);
        if auth_key != self.app.config.key
            || !sign::verify_hex(&self.app.config.secret, &message, signature)
        {
            return Err("invalid signature");
        }
        let user_data: UserData =
            serde_json::from_str(&data.user_data).map_err(|_| "user_data needs an id")?;
        let user = match user_data.id {
            serde_json::Value::String(id) if !id.is_empty() => id,
            _ => return Err("user_data.id must be a non-empty string"),
        };
        if user.len() > self.app.config.pusher.max_user_id_bytes {
            return Err("user_data.id is too long");
        }
        if user_data.watchlist.len() > MAX_WATCHLIST {
            return Err("a watchlist holds at most 100 users");
        }
        self.send(internal_event(
            "pusher:signin_success",
            None,
            &SigninSuccess {
                user_data: &data.user_data,
            },
        ));
        Ok(SignedIn {
            user: Arc::from(user),
            watchlist: user_data.watchlist.into_iter().map(Arc::from).collect(),
        })
    }

    /// Whether the connection may subscribe to `#server-to-user-{id}`: only
    /// when signed in as that user.
    pub(super) fn owns_user_channel(&self, name: &str) -> bool {
        let id = &name[SERVER_TO_USER_PREFIX.len()..];
        self.signed_in
            .as_ref()
            .is_some_and(|signed_in| &*signed_in.user == id)
    }

    /// Forgets the sign-in when the connection ends.
    pub(super) fn sign_out(&self) {
        if let Some(signed_in) = &self.signed_in {
            self.server.pusher.users.sign_out(
                &self.app.app.id,
                &signed_in.user,
                self.client.id,
                &signed_in.watchlist,
            );
            if let Some(cluster) = &self.server.cluster {
                cluster
                    .occupancy
                    .mark_signin(self.app.app.id.clone(), signed_in.user.clone());
            }
        }
    }
}
