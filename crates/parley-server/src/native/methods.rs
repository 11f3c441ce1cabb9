//! The names of the native protocol's methods, as metric labels: the
//! session's own, and those the rooms and moderation modules dispatch
//! (their `METHODS`).

/// The method label of the latency histogram: known methods only, so a
/// client cannot create label values.
pub(super) fn metric_method(method: &str) -> &'static str {
    match method {
        "connect" => "connect",
        "refresh" => "refresh",
        "subscribe" => "subscribe",
        "unsubscribe" => "unsubscribe",
        "publish" => "publish",
        "ping" => "ping",
        "presence" => "presence",
        "presence_stats" => "presence_stats",
        "presence_update" => "presence_update",
        "typing" => "typing",
        "status_update" => "status_update",
        "user_status" => "user_status",
        "message_send" => "message_send",
        "message_edit" => "message_edit",
        "message_delete" => "message_delete",
        "history" => "history",
        "messages" => "messages",
        "edit_trail" => "edit_trail",
        "reaction_add" => "reaction_add",
        "reaction_remove" => "reaction_remove",
        "reactions" => "reactions",
        other => super::rooms::METHODS
            .iter()
            .chain(super::moderation::METHODS)
            .find(|method| **method == other)
            .copied()
            .unwrap_or("unknown"),
    }
}
