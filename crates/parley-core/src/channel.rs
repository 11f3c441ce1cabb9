//! Channel names: validation, namespaces and personal channels.

use std::fmt;
use std::sync::Arc;

/// The longest channel name accepted, in bytes.
pub const MAX_CHANNEL_NAME_BYTES: usize = 255;

/// A validated channel name.
///
/// A name is printable ASCII without spaces, 1 to 255 bytes. Its namespace is
/// the part before the first `:`; a name without `:` belongs to the default
/// namespace. A name ending in `#` followed by comma-separated user ids
/// (`inbox#42`, `dm#42,57`) is a personal channel that only those users may
/// subscribe to.
///
/// Cloning is cheap: the name is shared.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Arc<str>);

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannelName {
    /// The name is the empty string.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than [`MAX_CHANNEL_NAME_BYTES`].
    #[error("channel name is longer than {MAX_CHANNEL_NAME_BYTES} bytes")]
    TooLong,
    /// The name holds a space, a control character or a non-ASCII byte.
    #[error("channel name may only hold printable ASCII without spaces")]
    BadCharacter,
    /// The name ends in `#` with an empty or malformed user list.
    #[error("personal channel has an empty user id")]
    EmptyUserId,
}

impl ChannelName {
    /// Validates `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, InvalidChannelName> {
        if name.is_empty() {
            return Err(InvalidChannelName::Empty);
        }
        if name.len() > MAX_CHANNEL_NAME_BYTES {
            return Err(InvalidChannelName::TooLong);
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidChannelName::BadCharacter);
        }
        let channel = Self(Arc::from(name));
        if let Some(users) = channel.user_list()
            && users.split(',').any(str::is_empty)
        {
            return Err(InvalidChannelName::EmptyUserId);
        }
        Ok(channel)
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace the channel belongs to, or `None` for the default
    /// namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once(':').map(|(namespace, _)| namespace)
    }

    /// Whether this is a personal channel (`name#user,user`).
    pub fn is_personal(&self) -> bool {
        self.user_list().is_some()
    }

    /// Whether `user` is one of the users a personal channel is for. Always
    /// true for a channel that is not personal.
    pub fn allows_user(&self, user: &str) -> bool {
        match self.user_list() {
            None => true,
            Some(users) => !user.is_empty() && users.split(',').any(|u| u == user),
        }
    }

    fn user_list(&self) -> Option<&str> {
        self.0.rsplit_once('#').map(|(_, users)| users)
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::borrow::Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        assert_eq!(
            ChannelName::new("chat:room-1").unwrap().namespace(),
            Some("chat")
        );
        assert_eq!(ChannelName::new("news").unwrap().namespace(), None);
        assert_eq!(ChannelName::new("a:b:c").unwrap().namespace(), Some("a"));
    }

    #[test]
    fn validation() {
        assert_eq!(ChannelName::new(""), Err(InvalidChannelName::Empty));
        assert_eq!(
            ChannelName::new("a b"),
            Err(InvalidChannelName::BadCharacter)
        );
        assert_eq!(
            ChannelName::new("caf\u{e9}"),
            Err(InvalidChannelName::BadCharacter)
        );
        assert_eq!(
            ChannelName::new("tab\there"),
            Err(InvalidChannelName::BadCharacter)
        );
        assert_eq!(
            ChannelName::new(&"x".repeat(256)),
            Err(InvalidChannelName::TooLong)
        );
        assert!(ChannelName::new(&"x".repeat(255)).is_ok());
        assert_eq!(
            ChannelName::new("dm#42,"),
            Err(InvalidChannelName::EmptyUserId)
        );
        assert_eq!(
            ChannelName::new("dm#"),
            Err(InvalidChannelName::EmptyUserId)
        );
    }

    #[test]
    fn personal_channels() {
        let inbox = ChannelName::new("inbox#42").unwrap();
        assert!(inbox.is_personal());
        assert!(inbox.allows_user("42"));
        assert!(!inbox.allows_user("4"));
        assert!(!inbox.allows_user(""));
        let dm = ChannelName::new("chat:dm#42,57").unwrap();
        assert!(dm.allows_user("57") && dm.allows_user("42") && !dm.allows_user("7"));
        let public = ChannelName::new("news").unwrap();
        assert!(!public.is_personal() && public.allows_user(""));
    }
}
