//! Reactions: a user's emoji on a message, or on a channel itself (the
//! page a reading group is on, the match a crowd watches), shared by the
//! native protocol and the HTTP API.
//!
//! Each (user, target, emoji) counts once: adding a reaction twice changes
//! nothing. Every change is appended to the channel's stream as
//! `reaction_added` or `reaction_removed` with the emoji's new count, so
//! live subscribers and recovering clients see it in order.

use parley_core::ChannelName;
use parley_store::{Reacted, ReactionAction, ReactionChange, ReactionCount, ReactionTarget};
use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use super::{Actor, Chat, ChatError, chat_namespace, parse_id};
use crate::state::AppContext;

/// The longest emoji accepted, in bytes of UTF-8: room for the longest
/// emoji ZWJ sequences and tag sequences (subdivision flags).
const MAX_EMOJI_BYTES: usize = 64;
/// The longest `:shortcode:` name accepted, in characters.
const MAX_SHORTCODE: usize = 32;

/// A reaction as callers write it: to a message (`message_id`) or, without
/// one, to the `channel` itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionRequest {
    /// The message reacted to.
    pub message_id: Option<String>,
    /// The channel reacted to; with `message_id`, it must be the message's.
    pub channel: Option<String>,
    /// The emoji.
    pub emoji: String,
}

/// Checks an emoji: either exactly one extended grapheme cluster of at most
/// 64 bytes that is not plain ASCII and holds no whitespace or control
/// character (`👍`, `❤️`, `👩🏽‍💻`, `🇫🇷`), or a custom `:shortcode:` of 1 to 32
/// lowercase ASCII letters, digits, `_`, `+` or `-` (`:party_parrot:`).
pub fn check_emoji(emoji: &str) -> Result<(), ChatError> {
    let shortcode = emoji
        .strip_prefix(':')
        .and_then(|rest| rest.strip_suffix(':'))
        .is_some_and(|name| {
            (1..=MAX_SHORTCODE).contains(&name.len())
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'+' | b'-')
                })
        });
    let grapheme = !emoji.is_empty()
        && emoji.len() <= MAX_EMOJI_BYTES
        && !emoji.is_ascii()
        && emoji.graphemes(true).count() == 1
        && !emoji.chars().any(|c| c.is_whitespace() || c.is_control());
    if shortcode || grapheme {
        Ok(())
    } else {
        Err(ChatError::Invalid(format!(
            "{emoji:?} is not an emoji: give one emoji or a :shortcode:"
        )))
    }
}

/// What a reaction request is on, and the channel whose stream records it.
/// The channel must persist messages; the caller checks that the user may
/// read it. A message the actor cannot see (a hidden message, which takes
/// no reactions, or someone else's shadow message) is not found.
pub async fn target(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    request: &ReactionRequest,
) -> Result<(ChannelName, ReactionTarget), ChatError> {
    check_emoji(&request.emoji)?;
    let named = request
        .channel
        .as_deref()
        .map(|name| ChannelName::new(name).map_err(parley_core::Error::from))
        .transpose()?;
    match (&request.message_id, named) {
        (Some(id), named) => {
            let id = parse_id(id)?;
            let message = chat.store().message(&app.app.id, id).await?;
            if message.is_deleted()
                || message.hidden
                || (message.shadow && *message.author != *actor.user)
            {
                return Err(ChatError::Store(parley_store::StoreError::NotFound(
                    "message",
                )));
            }
            if named.is_some_and(|named| named != message.channel) {
                return Err(ChatError::Invalid(
                    "the message is not in the channel named".into(),
                ));
            }
            chat_namespace(app, &message.channel)?;
            Ok((message.channel, ReactionTarget::Message(id)))
        }
        (None, Some(channel)) => {
            chat_namespace(app, &channel)?;
            Ok((channel.clone(), ReactionTarget::Channel(channel)))
        }
        (None, None) => Err(ChatError::Invalid(
            "give message_id, or channel to react to the channel".into(),
        )),
    }
}

/// Adds (`add`) or removes the actor's reaction to `target`, in `channel`,
/// and returns what it did. Users muted or banned in the channel may not
/// react, as they may not send; a shadow-muted user's reaction events go to
/// them alone.
pub async fn react(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    channel: &ChannelName,
    target: ReactionTarget,
    emoji: String,
    action: ReactionAction,
) -> Result<Reacted, ChatError> {
    // A room's reactions are its members' (as are its messages).
    if actor.limited {
        super::rooms::check_member(chat, app, channel, &actor.user).await?;
    }
    let mode = super::moderation::check_send(chat, app, channel, actor).await?;
    Ok(chat
        .store()
        .react(ReactionChange {
            app: app.app.id.clone(),
            target,
            user: actor.user.to_string(),
            emoji,
            action,
            shadow: mode.shadow,
        })
        .await?)
}

/// The reactions to a channel itself, with `me` relative to `reader`.
pub async fn channel_reactions(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    reader: Option<&str>,
) -> Result<Vec<ReactionCount>, ChatError> {
    chat_namespace(app, channel)?;
    Ok(chat
        .store()
        .channel_reactions(&app.app.id, channel, reader)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emojis_are_one_grapheme_or_a_shortcode() {
        for good in ["👍", "❤️", "👩🏽‍💻", "🇫🇷", "👨‍👩‍👧‍👦", ":party_parrot:", ":+1:", "é"]
        {
            assert!(check_emoji(good).is_ok(), "{good:?}");
        }
        for bad in [
            "", "a", "ok", "👍👍", " 👍", "👍 ", ":Bad:", "::", ":x", "\u{7}", "😀\n",
        ] {
            assert!(check_emoji(bad).is_err(), "{bad:?}");
        }
    }
}
