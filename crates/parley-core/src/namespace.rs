//! Namespaces: the options shared by every channel whose name starts with
//! the same `namespace:` prefix.

/// What clients may do in the channels of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace's name; `default` for channels without a prefix.
    pub name: String,
    /// Clients may publish into the namespace's channels (the server API
    /// always may).
    pub allow_publish: bool,
    /// Connections without a token may subscribe (and publish, where
    /// `allow_publish` is set).
    pub anonymous: bool,
    /// Subscribing needs a channel token, or the channel listed in the
    /// connection token's `channels` claim.
    pub private: bool,
    /// The largest publication payload accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Namespace {
    /// The name of the namespace that holds channels without a prefix.
    pub const DEFAULT: &'static str = "default";

    /// A namespace with the defaults: subscribe with a user token, no client
    /// publishing, not private, 64 KiB payloads.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            allow_publish: false,
            anonymous: false,
            private: false,
            max_message_bytes: 64 * 1024,
        }
    }
}
