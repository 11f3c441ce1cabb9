//! One application: its namespaces, its limits and its hub.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{ChannelName, ClientHandle, Error, Hub, Namespace, StatusBook, TypingBook};

/// Per-app settings the domain enforces.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The namespaces by name; channels without a prefix use the one named
    /// [`Namespace::DEFAULT`], which is always present.
    pub namespaces: HashMap<String, Namespace>,
    /// How many connections one user may hold at once.
    pub max_connections_per_user: usize,
    /// How many channels one connection may subscribe to.
    pub max_subscriptions_per_client: usize,
}

impl Default for AppOptions {
    fn default() -> Self {
        let default = Namespace::new(Namespace::DEFAULT);
        Self {
            namespaces: HashMap::from([(default.name.clone(), default)]),
            max_connections_per_user: 100,
            max_subscriptions_per_client: 1000,
        }
    }
}

/// How a subscription was authorized beyond the connection's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Nothing beyond the connection itself.
    None,
    /// A verified channel token for this channel and user, or the channel
    /// listed in the connection token's `channels` claim.
    Token,
}

/// One application. Every connection, channel and stored row belongs to
/// exactly one app, and nothing crosses apps: each app has its own hub.
#[derive(Debug)]
pub struct App {
    /// The app's id.
    pub id: Arc<str>,
    /// What the domain enforces for this app.
    pub options: AppOptions,
    /// The app's connections and subscriptions on this node.
    pub hub: Hub,
    /// Who is typing where.
    pub typing: TypingBook,
    /// Users' online status.
    pub statuses: StatusBook,
}

impl App {
    /// An app with no connections yet.
    pub fn new(id: impl Into<Arc<str>>, mut options: AppOptions) -> Self {
        options
            .namespaces
            .entry(Namespace::DEFAULT.to_owned())
            .or_insert_with(|| Namespace::new(Namespace::DEFAULT));
        Self {
            id: id.into(),
            options,
            hub: Hub::new(),
            typing: TypingBook::default(),
            statuses: StatusBook::default(),
        }
    }

    /// The namespaces whose channels carry user status.
    pub fn status_namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.options
            .namespaces
            .values()
            .filter(|namespace| namespace.user_status)
    }

    /// The namespace `channel` belongs to.
    pub fn namespace(&self, channel: &ChannelName) -> Result<&Namespace, Error> {
        let name = channel.namespace().unwrap_or(Namespace::DEFAULT);
        self.options
            .namespaces
            .get(name)
            .ok_or_else(|| Error::UnknownNamespace(name.to_owned()))
    }

    /// Checks that `user` (empty for an anonymous client) may subscribe to
    /// `channel`, or be counted in its presence.
    pub fn check_subscribe(
        &self,
        user: &str,
        channel: &ChannelName,
        grant: Grant,
    ) -> Result<&Namespace, Error> {
        let namespace = self.namespace(channel)?;
        if user.is_empty() && !namespace.anonymous {
            return Err(Error::PermissionDenied("namespace needs a user token"));
        }
        if !channel.allows_user(user) {
            return Err(Error::PermissionDenied("personal channel of other users"));
        }
        if namespace.private && grant != Grant::Token {
            return Err(Error::PermissionDenied(
                "private channel needs a channel token",
            ));
        }
        Ok(namespace)
    }

    /// Checks that `client` may publish `len` bytes into `channel`.
    /// `subscribed` says whether the client is subscribed to it: private and
    /// personal channels take publications only from their subscribers.
    pub fn check_publish(
        &self,
        client: &ClientHandle,
        channel: &ChannelName,
        subscribed: bool,
        len: usize,
    ) -> Result<&Namespace, Error> {
        let namespace = self.namespace(channel)?;
        if !namespace.allow_publish {
            return Err(Error::PermissionDenied(
                "namespace does not allow client publishing",
            ));
        }
        if client.is_anonymous() && !namespace.anonymous {
            return Err(Error::PermissionDenied("namespace needs a user token"));
        }
        if (namespace.private || channel.is_personal()) && !subscribed {
            return Err(Error::PermissionDenied("subscribe before publishing here"));
        }
        if len > namespace.max_message_bytes {
            return Err(Error::MessageTooLarge(namespace.max_message_bytes));
        }
        Ok(namespace)
    }
}
