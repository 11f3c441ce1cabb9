//! Rooms, read markers and search at the store, on both backends: a new
//! message costs no write per member, a direct room is found again, and a
//! search never leaves the user's rooms.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::{APP, TestDb, channel, new_message};
use parley_store::{
    EventEncoder, MembersEvent, NewRoom, RoomKind, RoomRole, SearchQuery, SearchScope,
};
use sqlx::{AnyPool, Row};

store_tests!(
    a_message_costs_no_write_per_member,
    a_direct_room_is_found_again,
    search_stays_in_the_users_rooms,
);

fn encoder() -> EventEncoder<MembersEvent> {
    Arc::new(|event: &MembersEvent| Bytes::from(format!("{} members", event.members.len())))
}

fn group(name: &str, members: &[String]) -> NewRoom {
    NewRoom {
        app: Arc::from(APP),
        channel: channel(name),
        kind: RoomKind::Group,
        direct_key: None,
        creator: members[0].clone(),
        members: members
            .iter()
            .map(|user| (user.clone(), RoomRole::Member))
            .collect(),
        encode: encoder(),
    }
}

async fn a_message_costs_no_write_per_member(db: TestDb) {
    let store = db.open().await;
    let members: Vec<String> = (0..50).map(|n| format!("user{n}")).collect();
    store
        .create_room(group("team:big", &members))
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&db.url()).await.unwrap();
    let marker_times = || async {
        let row = sqlx::query(
            "SELECT COUNT(*) AS markers, MAX(updated_at) AS newest FROM read_markers \
             WHERE user_id <> 'user0'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (
            row.try_get::<i64, _>("markers").unwrap(),
            row.try_get::<i64, _>("newest").unwrap(),
        )
    };
    let before = marker_times().await;
    assert_eq!(before.0, 49);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for n in 0..20 {
        store
            .send_message(new_message("team:big", "user0", &format!("message {n}")))
            .await
            .unwrap();
    }
    // No other member's marker was written: only the channel's count moved.
    assert_eq!(marker_times().await, before);
    for user in ["user1", "user49"] {
        let counts = store.unread(APP, user).await.unwrap();
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].unread, 20);
    }
    assert_eq!(store.unread(APP, "user0").await.unwrap()[0].unread, 0);
    pool.close().await;
    store.close().await;
}

async fn a_direct_room_is_found_again(db: TestDb) {
    let store = db.open().await;
    let direct = |name: &str| NewRoom {
        app: Arc::from(APP),
        channel: channel(name),
        kind: RoomKind::Direct,
        direct_key: Some("dm\na\nb".to_owned()),
        creator: "a".to_owned(),
        members: vec![
            ("a".to_owned(), RoomRole::Member),
            ("b".to_owned(), RoomRole::Member),
        ],
        encode: encoder(),
    };
    let first = store.create_room(direct("dm:one")).await.unwrap();
    assert!(first.created);
    assert!(first.publication.is_some());
    let again = store.create_room(direct("dm:two")).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.room.channel, channel("dm:one"));
    assert_eq!(again.members.len(), 2);
    assert!(store.room(APP, &channel("dm:two")).await.unwrap().is_none());
    store.close().await;
}

async fn search_stays_in_the_users_rooms(db: TestDb) {
    let store = db.open().await;
    store
        .create_room(group("team:ours", &["ann".to_owned()]))
        .await
        .unwrap();
    store
        .create_room(group("team:theirs", &["bo".to_owned()]))
        .await
        .unwrap();
    for (room, text) in [("team:ours", "blue sky"), ("team:theirs", "blue sea")] {
        store
            .send_message(new_message(room, "x", text))
            .await
            .unwrap();
    }
    let found = store
        .search(
            APP,
            SearchQuery {
                words: vec!["blue".to_owned()],
                scope: SearchScope::RoomsOf("ann".to_owned()),
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.messages.len(), 1);
    assert_eq!(found.messages[0].text, "blue sky");
    store.close().await;
}
