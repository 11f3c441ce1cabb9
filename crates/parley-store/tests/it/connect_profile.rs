//! `Store::connect_profile`: the app-wide ban, the block list and the
//! unread total a `connect` reads in one statement, on both backends.

use crate::common;

use common::{APP, TestDb, channel, send};
use parley_store::{
    ConnectProfile, Restriction, RestrictionInForce, RestrictionKind, Store, Timestamp,
};

store_tests!(
    a_new_user_has_an_empty_profile,
    only_an_app_wide_ban_in_force_counts,
    blocks_and_unread_are_the_users_own,
);

fn ban(user: &str, channel_name: Option<&str>, expires_at: Option<Timestamp>) -> Restriction {
    Restriction {
        user: user.to_owned(),
        kind: RestrictionKind::Ban,
        channel: channel_name.map(channel),
        expires_at,
        created_by: "mod".to_owned(),
        created_at: Timestamp::now(),
    }
}

async fn profile(store: &Store, app: &str, user: &str) -> ConnectProfile {
    let mut profile = store
        .connect_profile(app, user)
        .await
        .expect("the profile is read");
    profile.blocks.sort();
    profile
}

async fn a_new_user_has_an_empty_profile(db: TestDb) {
    let store = db.open().await;
    assert_eq!(
        profile(&store, APP, "alice").await,
        ConnectProfile {
            restrictions: Some(Vec::new()),
            ..ConnectProfile::default()
        }
    );
    store.close().await;
}

async fn only_an_app_wide_ban_in_force_counts(db: TestDb) {
    let store = db.open().await;
    let past = Timestamp::from_millis(Timestamp::now().as_millis() - 1000);
    store
        .restrict(APP, &ban("alice", None, Some(past)))
        .await
        .unwrap();
    store
        .restrict(APP, &ban("alice", Some("chat:room"), None))
        .await
        .unwrap();
    let mute = Restriction {
        kind: RestrictionKind::Mute,
        ..ban("alice", None, None)
    };
    store.restrict(APP, &mute).await.unwrap();
    let alice = profile(&store, APP, "alice").await;
    assert!(!alice.banned);
    // Every restriction in force comes along, the channel's too, for the
    // checks on send and subscribe; the expired one does not.
    let mut in_force = alice.restrictions.unwrap();
    in_force.sort_by_key(|r| r.channel.is_none());
    assert_eq!(
        in_force,
        [
            RestrictionInForce {
                kind: RestrictionKind::Ban,
                channel: Some(channel("chat:room")),
                expires_at: None,
            },
            RestrictionInForce {
                kind: RestrictionKind::Mute,
                channel: None,
                expires_at: None,
            },
        ]
    );

    let future = Timestamp::from_millis(Timestamp::now().as_millis() + 60_000);
    store
        .restrict(APP, &ban("alice", None, Some(future)))
        .await
        .unwrap();
    assert!(profile(&store, APP, "alice").await.banned);
    assert!(!profile(&store, APP, "bob").await.banned);
    assert!(!profile(&store, "app2", "alice").await.banned);
    store.close().await;
}

async fn blocks_and_unread_are_the_users_own(db: TestDb) {
    let store = db.open().await;
    store.block(APP, "alice", "carol").await.unwrap();
    store.block(APP, "alice", "bob").await.unwrap();
    store.block(APP, "bob", "dave").await.unwrap();
    // Sending gives alice a read marker in each channel at her own message;
    // what others send after it is unread.
    send(&store, "chat:one", "alice", "hello").await;
    send(&store, "chat:two", "alice", "hello").await;
    for n in 0..3 {
        send(&store, "chat:one", "bob", &format!("one {n}")).await;
    }
    for n in 0..2 {
        send(&store, "chat:two", "carol", &format!("two {n}")).await;
    }
    send(&store, "chat:three", "bob", "nobody reads here").await;

    let alice = profile(&store, APP, "alice").await;
    let listed: u64 = store
        .unread(APP, "alice")
        .await
        .unwrap()
        .iter()
        .map(|count| count.unread)
        .sum();
    assert_eq!(alice.unread, 5);
    assert_eq!(alice.unread, listed);
    assert_eq!(alice.blocks, ["bob", "carol"]);
    assert!(!alice.banned);

    let bob = profile(&store, APP, "bob").await;
    assert_eq!(bob.blocks, ["dave"]);
    assert_eq!(bob.unread, 0);
    assert_eq!(
        profile(&store, "app2", "alice").await,
        ConnectProfile {
            restrictions: Some(Vec::new()),
            ..ConnectProfile::default()
        }
    );
    store.close().await;
}
