//! Read markers and unread counts: `read_mark`, `mark_unread`, `unread`.
//!
//! A user's marker moves forward with `read_mark` and back with
//! `mark_unread`. In a namespace with `read_receipts = "room"` every move is
//! a `read_updated` event in the channel's stream; with `"private"` (the
//! default) only the reader learns of it, in the reply.

use std::sync::Arc;

use parley_core::ChannelName;
use parley_store::{ReadChange, ReadDirection, ReadMark, ReadMarker, UnreadCount};

use super::{Chat, ChatError, chat_namespace, parse_id, rooms};
use crate::config::ReadReceipts;
use crate::json::reads::marker_data;
use crate::state::AppContext;

/// Moves `user`'s read marker in `channel` to the message `id`: forward
/// (`read_mark`, never backwards) or back (`mark_unread`: that message and
/// everything after it unread, never forwards).
pub async fn mark(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    user: &str,
    id: &str,
    direction: ReadDirection,
) -> Result<ReadChange, ChatError> {
    let (_, config) = chat_namespace(app, channel)?;
    rooms::check_member(chat, app, channel, user).await?;
    let encode: Option<parley_store::EventEncoder<ReadMarker>> = match config.read_receipts {
        ReadReceipts::Room => Some(Arc::new(marker_data)),
        ReadReceipts::Private => None,
    };
    Ok(chat
        .store()
        .mark_read(ReadMark {
            app: app.app.id.clone(),
            channel: channel.clone(),
            user: user.to_owned(),
            message: parse_id(id)?,
            direction,
            encode,
        })
        .await?)
}

/// A user's unread counts: the channels with unread messages and the
/// totals.
pub async fn unread(
    chat: &Chat,
    app: &AppContext,
    user: &str,
) -> Result<Vec<UnreadCount>, ChatError> {
    Ok(chat.store().unread(&app.app.id, user).await?)
}
