//! `Method`: the native protocol's methods, parsed once from a command's
//! `method` string. The session dispatches on it, the latency metric is
//! labelled with its name, and a test holds docs/protocol.md to the same
//! list, so a method is named in exactly one place.

/// Declares [`Method`] with the wire name of each variant, and
/// [`Method::ALL`] in declaration order.
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// A method of the native protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $variant,)*
        }

        impl Method {
            /// Every method, in the order the protocol documents them.
            pub const ALL: &[Method] = &[$(Method::$variant,)*];

            /// The method named `name` on the wire, if there is one.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Method::$variant),)*
                    _ => None,
                }
            }

            /// The name on the wire, also the metric label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }
        }
    };
}

methods! {
    /// Authenticates the connection; the first command of every session.
    Connect => "connect",
    /// Replaces the connection's token before it expires.
    Refresh => "refresh",
    /// Subscribes to a channel, recovering from a stream position.
    Subscribe => "subscribe",
    /// Ends a subscription.
    Unsubscribe => "unsubscribe",
    /// Publishes into a channel.
    Publish => "publish",
    /// Answers at once: the client's liveness check.
    Ping => "ping",
    /// Lists a channel's present members.
    Presence => "presence",
    /// Counts a channel's present members and connections.
    PresenceStats => "presence_stats",
    /// Changes the connection's presence state in a channel.
    PresenceUpdate => "presence_update",
    /// Says the user is typing in a channel.
    Typing => "typing",
    /// Sets the user's online status.
    StatusUpdate => "status_update",
    /// Reads users' online status.
    UserStatus => "user_status",
    /// Sends a chat message.
    MessageSend => "message_send",
    /// Edits one's own chat message.
    MessageEdit => "message_edit",
    /// Deletes a chat message.
    MessageDelete => "message_delete",
    /// A page of a channel's stream.
    History => "history",
    /// A page of a channel's chat messages.
    Messages => "messages",
    /// A message's earlier versions.
    EditTrail => "edit_trail",
    /// Reacts to a message or a channel.
    ReactionAdd => "reaction_add",
    /// Takes a reaction back.
    ReactionRemove => "reaction_remove",
    /// Lists the reactions to a message or a channel.
    Reactions => "reactions",
    /// Creates a direct or group room.
    RoomCreate => "room_create",
    /// Adds members to a room.
    RoomAddMembers => "room_add_members",
    /// Removes members from a room.
    RoomRemoveMembers => "room_remove_members",
    /// Lists the user's rooms.
    Rooms => "rooms",
    /// Moves the user's read marker forward.
    ReadMark => "read_mark",
    /// Moves the user's read marker back.
    MarkUnread => "mark_unread",
    /// The user's unread counts.
    Unread => "unread",
    /// Pins a message.
    MessagePin => "message_pin",
    /// Unpins a message.
    MessageUnpin => "message_unpin",
    /// Lists a channel's pins.
    Pins => "pins",
    /// A page of a message's replies.
    Thread => "thread",
    /// Searches messages.
    Search => "search",
    /// Mutes a user in a channel or the app.
    Mute => "mute",
    /// Lifts a mute.
    Unmute => "unmute",
    /// Bans a user from a channel or the app.
    Ban => "ban",
    /// Lifts a ban.
    Unban => "unban",
    /// Hides a message from everyone but moderators.
    MessageHide => "message_hide",
    /// Shows a hidden message again.
    MessageUnhide => "message_unhide",
    /// Adds a user to one's block list.
    Block => "block",
    /// Takes a user off one's block list.
    Unblock => "unblock",
    /// One's block list.
    Blocks => "blocks",
    /// Reports a message or a user to the moderators.
    Report => "report",
    /// Replaces a document.
    DocSet => "doc_set",
    /// Applies a JSON merge patch to a document.
    DocMerge => "doc_merge",
    /// Adds to a numeric field of a document.
    DocIncrement => "doc_increment",
    /// Deletes a document.
    DocDelete => "doc_delete",
    /// Reads a document.
    DocGet => "doc_get",
    /// Lists a channel's documents.
    DocList => "doc_list",
    /// Starts a live query over a channel's documents.
    DocWatch => "doc_watch",
    /// Ends a live query.
    DocUnwatch => "doc_unwatch",
}

/// The metric label for a command whose method did not parse: one label,
/// so a client cannot create label values.
pub const UNKNOWN_LABEL: &str = "unknown";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_parses_back_from_its_name() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(*method));
        }
        assert_eq!(Method::parse("Connect"), None);
        assert_eq!(Method::parse("unknown"), None);
    }

    #[test]
    fn the_protocol_document_lists_every_method_and_no_other() {
        let doc = include_str!("../../../../docs/protocol.md");
        // The envelope's `method` row lists them all, in backticks.
        let row = doc
            .lines()
            .find(|line| line.starts_with("| `method` | string | One of "))
            .expect("docs/protocol.md has the envelope's method row");
        let listed: Vec<&str> = row
            .split('`')
            .skip(3)
            .step_by(2)
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort_unstable();
        let mut ours: Vec<&str> = Method::ALL.iter().map(|method| method.as_str()).collect();
        ours.sort_unstable();
        assert_eq!(listed_sorted, ours, "the method row of docs/protocol.md");
        // And each has its own section.
        for method in Method::ALL {
            let heading = format!("\n### {}\n", method.as_str());
            assert!(
                doc.contains(&heading),
                "docs/protocol.md has no section {heading:?}"
            );
        }
    }
}
