//! Moderation state in the store: restrictions with expiry, block lists,
//! reports, hidden and shadow messages, on both backends.

use crate::common;
use parley_store::Visibility;

use std::sync::Arc;

use common::{APP, TestDb, channel, id, new_message, send};
use parley_store::{
    Message, MessageHide, ReportStatus, Restriction, RestrictionKind, StoreError, Timestamp,
};

store_tests!(
    restrictions_apply_in_their_scope_until_they_expire,
    block_lists_are_per_user,
    reports_are_filed_once_paged_and_resolved,
    hiding_marks_the_message_and_appends_an_event,
    shadow_messages_are_addressed_to_their_author,
);

fn restriction(
    user: &str,
    kind: RestrictionKind,
    channel_name: Option<&str>,
    expires_at: Option<Timestamp>,
) -> Restriction {
    Restriction {
        user: user.to_owned(),
        kind,
        channel: channel_name.map(channel),
        expires_at,
        created_by: "mod".to_owned(),
        created_at: Timestamp::now(),
    }
}

async fn restrictions_apply_in_their_scope_until_they_expire(db: TestDb) {
    let store = db.open().await;
    let room = channel("chat:room");
    let other = channel("chat:other");
    store
        .restrict(
            APP,
            &restriction("alice", RestrictionKind::Mute, Some("chat:room"), None),
        )
        .await
        .expect("muted");
    let past = Timestamp::from_millis(Timestamp::now().as_millis() - 1000);
    store
        .restrict(
            APP,
            &restriction("alice", RestrictionKind::Ban, None, Some(past)),
        )
        .await
        .expect("banned, expired already");

    let in_room = store
        .restrictions_of(APP, "alice", Some(&room))
        .await
        .unwrap();
    assert_eq!(in_room.len(), 1);
    assert_eq!(in_room[0].kind, RestrictionKind::Mute);
    assert!(
        store
            .restrictions_of(APP, "alice", Some(&other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .restrictions_of(APP, "alice", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .restrictions_of("app2", "alice", Some(&room))
            .await
            .unwrap()
            .is_empty()
    );

    // Setting it again replaces it: now with a timeout, app-wide scope apart.
    let later = Timestamp::from_millis(Timestamp::now().as_millis() + 60_000);
    store
        .restrict(
            APP,
            &restriction(
                "alice",
                RestrictionKind::Mute,
                Some("chat:room"),
                Some(later),
            ),
        )
        .await
        .unwrap();
    let all = store.restrictions(APP, Some("alice"), 10).await.unwrap();
    assert_eq!(all.len(), 1, "the expired ban is not listed");
    assert_eq!(all[0].expires_at, Some(later));

    assert!(
        !store
            .lift(APP, "alice", RestrictionKind::Ban, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .lift(APP, "alice", RestrictionKind::Mute, Some(&room))
            .await
            .unwrap()
    );
    assert!(
        !store
            .lift(APP, "alice", RestrictionKind::Mute, Some(&room))
            .await
            .unwrap()
    );
    assert!(
        store
            .restrictions_of(APP, "alice", Some(&room))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn block_lists_are_per_user(db: TestDb) {
    let store = db.open().await;
    store.block(APP, "bob", "carol").await.unwrap();
    store.block(APP, "bob", "alice").await.unwrap();
    store.block(APP, "bob", "alice").await.unwrap();
    assert_eq!(store.blocks(APP, "bob").await.unwrap(), ["alice", "carol"]);
    assert!(store.blocks(APP, "alice").await.unwrap().is_empty());
    assert!(store.blocks("app2", "bob").await.unwrap().is_empty());
    assert!(matches!(
        store.block(APP, "bob", "bob").await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(store.unblock(APP, "bob", "alice").await.unwrap());
    assert!(!store.unblock(APP, "bob", "alice").await.unwrap());
    assert_eq!(store.blocks(APP, "bob").await.unwrap(), ["carol"]);
}

async fn reports_are_filed_once_paged_and_resolved(db: TestDb) {
    let store = db.open().await;
    let first = send(&store, "chat:room", "alice", "one").await;
    let second = send(&store, "chat:room", "alice", "two").await;
    let report = store.report(APP, id(&first), "bob", "rude").await.unwrap();
    assert_eq!(report.status, ReportStatus::Open);
    assert_eq!(report.channel, channel("chat:room"));
    let again = store
        .report(APP, id(&first), "bob", "very rude")
        .await
        .unwrap();
    assert_eq!((again.id, again.reason.as_str()), (report.id, "rude"));
    let other = store.report(APP, id(&second), "bob", "spam").await.unwrap();
    store
        .report(APP, id(&first), "carol", "rude")
        .await
        .unwrap();
    assert!(matches!(
        store.report(APP, id(&first), "dave", "  ").await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.report("app2", id(&first), "dave", "x").await,
        Err(StoreError::NotFound("message"))
    ));

    let page = store
        .reports(APP, Some(ReportStatus::Open), None, 2)
        .await
        .unwrap();
    assert_eq!(page.reports.len(), 2);
    assert!(page.has_more);
    let rest = store
        .reports(APP, Some(ReportStatus::Open), Some(page.reports[1].id), 2)
        .await
        .unwrap();
    assert_eq!(rest.reports.len(), 1);
    assert!(!rest.has_more);
    assert_eq!(rest.reports[0].id, report.id, "newest first");

    let resolved = store
        .resolve_report(APP, other.id, "dismiss", "mod")
        .await
        .unwrap();
    assert_eq!(resolved.status, ReportStatus::Resolved);
    assert_eq!(resolved.action.as_deref(), Some("dismiss"));
    assert_eq!(resolved.resolved_by.as_deref(), Some("mod"));
    assert!(resolved.resolved_at.is_some());
    assert!(matches!(
        store.resolve_report(APP, other.id, "dismiss", "mod").await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.resolve_report(APP, 999_999, "dismiss", "mod").await,
        Err(StoreError::NotFound("report"))
    ));
    let resolved = store
        .reports(APP, Some(ReportStatus::Resolved), None, 10)
        .await
        .unwrap();
    assert_eq!(resolved.reports.len(), 1);
    assert_eq!(
        store
            .reports(APP, None, None, 10)
            .await
            .unwrap()
            .reports
            .len(),
        3
    );
}

async fn hiding_marks_the_message_and_appends_an_event(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:room", "alice", "rude").await;
    let hide = |hidden: bool| MessageHide {
        app: Arc::from(APP),
        id: id(&sent),
        visibility: if hidden {
            Visibility::Hidden
        } else {
            Visibility::Shown
        },
    };
    let changed = store.hide_message(hide(true)).await.expect("hidden");
    assert!(changed.message.hidden);
    assert_eq!(changed.message.text, "rude", "the store keeps the text");
    assert_eq!(changed.publication.kind, Message::UPDATED);
    assert_eq!(changed.publication.position.offset, 2);
    assert!(store.message(APP, id(&sent)).await.unwrap().hidden);
    assert!(matches!(
        store.hide_message(hide(true)).await,
        Err(StoreError::InvalidInput(_))
    ));
    let shown = store.hide_message(hide(false)).await.expect("shown");
    assert!(!shown.message.hidden);
    assert_eq!(shown.publication.position.offset, 3);
    assert!(matches!(
        store
            .hide_message(MessageHide {
                app: Arc::from(APP),
                id: parley_store::MessageId::new(424_242),
                visibility: Visibility::Hidden,
            })
            .await,
        Err(StoreError::NotFound("message"))
    ));
}

async fn shadow_messages_are_addressed_to_their_author(db: TestDb) {
    let store = db.open().await;
    let plain = send(&store, "chat:room", "bob", "hi").await;
    let shadow = store
        .send_message(parley_store::NewMessage {
            shadow: true,
            ..new_message("chat:room", "alice", "psst")
        })
        .await
        .expect("sent");
    assert!(shadow.message.shadow);
    let publication = shadow.publication.expect("appended");
    assert_eq!(publication.audience.as_deref(), Some("alice"));
    assert_eq!(publication.author.as_deref(), Some("alice"));
    assert_eq!(publication.position.offset, 2, "it takes the next offset");
    assert!(store.message(APP, shadow.message.id).await.unwrap().shadow);

    let recovery = store
        .publications_after(APP, &channel("chat:room"), 0, 10)
        .await
        .unwrap();
    assert!(recovery.complete);
    let audiences: Vec<_> = recovery
        .publications
        .iter()
        .map(|p| (p.author.as_deref(), p.audience.as_deref()))
        .collect();
    assert_eq!(
        audiences,
        [(Some("bob"), None), (Some("alice"), Some("alice"))]
    );
    assert!(!plain.message.shadow);
}
