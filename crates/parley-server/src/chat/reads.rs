//! Read markers and unread counts: `read_mark`, `mark_unread`, `unread`.
//!
//! A user's marker moves forward with `read_mark` and back with
//! `mark_unread`. In a namespace with `read_receipts = "room"` every move is
//! a `read_updated` event in the channel's stream; with `"private"` (the
//! default) only the reader learns of it, in the reply.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::ChannelName;
use parley_store::{ReadChange, ReadDirection, ReadMark, ReadMarker, UnreadCount};
use serde_json::json;

use super::{ChatError, chat_namespace, parse_id, rooms};
use crate::config::ReadReceipts;
use crate::state::{AppContext, ServerState};

/// Moves `user`'s read marker in `channel` to the message `id`: forward
/// (`read_mark`, never backwards) or back (`mark_unread`: that message and
/// everything after it unread, never forwards).
pub async fn mark(
    server: &ServerState,
    app: &AppContext,
    channel: &ChannelName,
    user: &str,
    id: &str,
    direction: ReadDirection,
) -> Result<ReadChange, ChatError> {
    let (_, config) = chat_namespace(app, channel)?;
    rooms::check_member(server, app, channel, user).await?;
    let encode: Option<parley_store::EventEncoder<ReadMarker>> = match config.read_receipts {
        ReadReceipts::Room => Some(Arc::new(marker_data)),
        ReadReceipts::Private => None,
    };
    Ok(server
        .store
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

/// `{"channel","user","last_read_offset","unread"}`: the payload of
/// `read_updated`.
pub fn marker_data(marker: &ReadMarker) -> Bytes {
    Bytes::from(
        json!({
            "channel": marker.channel.as_str(),
            "user": marker.user,
            "last_read_offset": marker.last_read_offset,
            "unread": marker.unread,
        })
        .to_string(),
    )
}

/// `{"channel","user","last_read_offset","unread","moved"}` for the reply.
pub fn change_json(change: &ReadChange) -> String {
    let marker = &change.marker;
    json!({
        "channel": marker.channel.as_str(),
        "user": marker.user,
        "last_read_offset": marker.last_read_offset,
        "unread": marker.unread,
        "moved": change.moved,
    })
    .to_string()
}

/// A user's unread counts: the channels with unread messages and the
/// totals.
pub async fn unread(
    server: &ServerState,
    app: &AppContext,
    user: &str,
) -> Result<Vec<UnreadCount>, ChatError> {
    Ok(server.store.unread(&app.app.id, user).await?)
}

/// `{"channels": [{"channel","unread","mentions","last_read_offset"}],
/// "unread": total, "mentions": total}`; channels with nothing unread are
/// left out of the list.
pub fn unread_json(counts: &[UnreadCount]) -> String {
    let channels: Vec<_> = counts
        .iter()
        .filter(|count| count.unread > 0)
        .map(|count| {
            json!({
                "channel": count.channel.as_str(),
                "unread": count.unread,
                "mentions": count.mentions,
                "last_read_offset": count.last_read_offset,
            })
        })
        .collect();
    json!({
        "channels": channels,
        "unread": counts.iter().map(|count| count.unread).sum::<u64>(),
        "mentions": counts.iter().map(|count| count.mentions).sum::<u64>(),
    })
    .to_string()
}
