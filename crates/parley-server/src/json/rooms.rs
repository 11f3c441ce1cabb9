//! The JSON of rooms: the `member_added` and `member_removed` events, the
//! replies to creating a room and changing its members, and a user's room
//! list.

use bytes::Bytes;
use parley_store::{MembersChanged, MembersEvent, Room, RoomCreated, RoomMember, RoomPage};
use serde_json::{Value, json};

/// `{"room": {...}, "members": [{"user","role","joined_at"}], "by": user}`:
/// the payload of `member_added` and `member_removed`.
pub fn members_event_data(event: &MembersEvent) -> Bytes {
    Bytes::from(
        json!({
            "room": room_value(&event.room),
            "members": members_value(&event.members),
            "by": event.by,
        })
        .to_string(),
    )
}

fn room_value(room: &Room) -> Value {
    json!({
        "channel": room.channel.as_str(),
        "kind": room.kind.as_str(),
        "created_by": room.created_by,
        "created_at": room.created_at.as_millis(),
        "last_activity": room.last_activity.as_millis(),
    })
}

fn members_value(members: &[RoomMember]) -> Value {
    members
        .iter()
        .map(|member| {
            json!({
                "user": member.user,
                "role": member.role.as_str(),
                "joined_at": member.joined_at.as_millis(),
            })
        })
        .collect()
}

/// `{"members": [{"user","role","joined_at"}]}`: a room's members.
pub fn members_json(members: &[RoomMember]) -> String {
    json!({ "members": members_value(members) }).to_string()
}

/// `{"room": {...}, "members": [...], "created": bool, "offset"?, "epoch"?}`.
pub fn created_json(created: &RoomCreated) -> String {
    let mut value = json!({
        "room": room_value(&created.room),
        "members": members_value(&created.members),
        "created": created.created,
    });
    if let Some(publication) = &created.publication {
        value["offset"] = json!(publication.position.offset);
        value["epoch"] = json!(&*publication.position.epoch);
    }
    value.to_string()
}

/// `{"room": {...}, "members": [the changed ones], "offset", "epoch"}`.
pub fn changed_json(changed: &MembersChanged) -> String {
    let mut value = json!({
        "room": room_value(&changed.room),
        "members": members_value(&changed.members),
    });
    if let Some(publication) = &changed.publication {
        value["offset"] = json!(publication.position.offset);
        value["epoch"] = json!(&*publication.position.epoch);
    }
    value.to_string()
}

/// `{"rooms": [{room fields, "role", "members", "member_count",
/// "last_message", "unread", "mentions"}], "next": cursor | null}`.
pub fn page_json(page: &RoomPage) -> String {
    let rooms: Vec<Value> = page
        .rooms
        .iter()
        .map(|summary| {
            let mut room = room_value(&summary.room);
            room["role"] = json!(summary.role.as_str());
            room["members"] = members_value(&summary.members);
            room["member_count"] = json!(summary.member_count);
            room["last_message"] = match &summary.last_message {
                Some(message) => {
                    serde_json::from_str(&super::message_json(message)).unwrap_or(Value::Null)
                }
                None => Value::Null,
            };
            room["unread"] = json!(summary.unread);
            room["mentions"] = json!(summary.mentions);
            room
        })
        .collect();
    json!({"rooms": rooms, "next": page.next}).to_string()
}
