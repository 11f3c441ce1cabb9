//! Hints for settings written as another server spells them. Teams moving
//! from Soketi or Sockudo put a Pusher app's options (client events, user
//! authentication, presence limits) on the app itself; Parley keeps them
//! in the app's `[apps.pusher]` table. Such a key is still refused, as
//! every unknown key is, but the error says where it goes.

/// Keys written on an app, as Soketi (camelCase) or Sockudo (snake_case)
/// write them, and the `[apps.pusher]` key that does the same here.
const PUSHER_APP_KEYS: &[(&str, &str)] = &[
    ("enable_client_messages", "enable_client_messages"),
    ("enableClientMessages", "enable_client_messages"),
    ("enable_user_authentication", "enable_user_authentication"),
    ("enableUserAuthentication", "enable_user_authentication"),
    ("max_presence_members_per_channel", "max_presence_members"),
    ("maxPresenceMembersPerChannel", "max_presence_members"),
    ("max_presence_members", "max_presence_members"),
    ("max_client_events_per_second", "client_events_per_second"),
    ("maxClientEventsPerSecond", "client_events_per_second"),
    ("client_events_per_second", "client_events_per_second"),
    ("enable_subscription_count", "enable_subscription_count"),
    ("enableSubscriptionCount", "enable_subscription_count"),
    ("max_message_bytes", "max_message_bytes"),
    ("max_user_info_bytes", "max_user_info_bytes"),
];

/// `message` (a refused configuration), with where the key goes when it
/// is an app-level key of another server that Parley keeps in
/// `[apps.pusher]`.
pub(super) fn with_hint(message: String) -> String {
    // serde's wording: "unknown field `name`, expected one of `id`, …";
    // only the app's table lists `pusher` among its fields.
    let Some(rest) = message.split("unknown field `").nth(1) else {
        return message;
    };
    let Some((key, expected)) = rest.split_once('`') else {
        return message;
    };
    if !expected.contains("`pusher`") {
        return message;
    }
    match PUSHER_APP_KEYS.iter().find(|(other, _)| *other == key) {
        Some((_, ours)) => format!(
            "{message}\nhint: `{key}` is a Pusher option of the app: write it as `{ours}` in the \
             app's [apps.pusher] table (see \"Moving from Pusher, Soketi or Sockudo\" in docs/pusher.md)"
        ),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_level_pusher_key_gets_a_hint_and_others_do_not() {
        let app = "unknown field `enableClientMessages`, expected one of `id`, `key`, `pusher`";
        let hinted = with_hint(app.to_owned());
        assert!(hinted.starts_with(app));
        assert!(hinted.contains("`enable_client_messages` in the app's [apps.pusher] table"));
        // The same name in another table, or an unknown name, is left alone.
        let namespace = "unknown field `enable_client_messages`, expected one of `persist`";
        assert_eq!(with_hint(namespace.to_owned()), namespace);
        let other = "unknown field `colour`, expected one of `id`, `pusher`";
        assert_eq!(with_hint(other.to_owned()), other);
    }
}
