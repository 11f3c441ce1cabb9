//! The JSON of read markers: the `read_updated` event, the reply to a
//! marker's move, and a user's unread counts.

use bytes::Bytes;
use parley_store::{ReadChange, ReadMarker, UnreadCount};
use serde_json::json;

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
