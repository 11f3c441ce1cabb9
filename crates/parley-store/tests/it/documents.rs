//! Live documents at the store, on both backends: versions and
//! compare-and-set, each write one `doc_changed` event, concurrent
//! increments that lose nothing, limits, and lists filtered, ordered and
//! paged by top-level fields.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::{APP, TestDb, channel};
use parley_store::{
    Bound, Comparison, Condition, Direction, DocumentChanged, DocumentData, DocumentEdit,
    DocumentField, DocumentLimits, DocumentOrderBy, DocumentQuery, DocumentWrite, Filter, Scalar,
    Store, StoreError,
};
use serde_json::{Value, json};

store_tests!(
    a_document_is_versioned_and_each_write_is_an_event,
    compare_and_set_refuses_another_version_and_names_the_current_one,
    concurrent_increments_lose_nothing,
    a_document_over_the_limits_is_refused,
    a_list_filters_orders_and_pages_by_fields,
);

const LIMITS: DocumentLimits = DocumentLimits {
    max_bytes: 1024,
    max_documents: 50,
};

fn object(value: Value) -> DocumentData {
    match value {
        Value::Object(map) => map,
        other => panic!("{other} is not an object"),
    }
}

fn write(channel_name: &str, key: &str, edit: DocumentEdit) -> DocumentWrite {
    DocumentWrite {
        app: Arc::from(APP),
        channel: channel(channel_name),
        key: key.to_owned(),
        edit,
        if_version: None,
        by: "42".to_owned(),
        limits: LIMITS,
        encode: Arc::new(|change: &DocumentChanged| {
            Bytes::from(format!(
                "{} v{} {}",
                change.key,
                change.version,
                change.data.clone().map_or(Value::Null, Value::Object)
            ))
        }),
    }
}

async fn set(store: &Store, channel_name: &str, key: &str, data: Value) {
    store
        .write_document(write(channel_name, key, DocumentEdit::Set(object(data))))
        .await
        .expect("the document is written");
}

async fn a_document_is_versioned_and_each_write_is_an_event(db: TestDb) {
    let store = db.open().await;
    let progress = "progress:watch#42";
    let first = store
        .write_document(write(
            progress,
            "ep1",
            DocumentEdit::Set(object(json!({"position": 10, "device": "tv"}))),
        ))
        .await
        .unwrap();
    assert_eq!(first.change.version, 1);
    let merged = store
        .write_document(write(
            progress,
            "ep1",
            DocumentEdit::Merge(object(json!({"position": 20, "device": null}))),
        ))
        .await
        .unwrap();
    assert_eq!(merged.change.version, 2);
    assert_eq!(merged.change.data, Some(object(json!({"position": 20}))));
    let document = store
        .document(APP, &channel(progress), "ep1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(document.version, 2);
    assert_eq!(document.updated_by, "42");
    let deleted = store
        .write_document(write(progress, "ep1", DocumentEdit::Delete))
        .await
        .unwrap();
    assert_eq!((deleted.change.version, deleted.change.data), (3, None));
    assert!(
        store
            .document(APP, &channel(progress), "ep1")
            .await
            .unwrap()
            .is_none()
    );
    // Deleting what is not there is refused, and appends nothing.
    assert!(matches!(
        store
            .write_document(write(progress, "ep1", DocumentEdit::Delete))
            .await,
        Err(StoreError::NotFound("document"))
    ));
    let recovery = store
        .publications_after(APP, &channel(progress), 0, 10)
        .await
        .unwrap();
    let events: Vec<_> = recovery
        .publications
        .iter()
        .map(|publication| {
            (
                publication.position.offset,
                publication.kind.as_str().to_owned(),
                String::from_utf8(publication.data.to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            (
                1,
                "doc_changed".to_owned(),
                r#"ep1 v1 {"device":"tv","position":10}"#.to_owned()
            ),
            (
                2,
                "doc_changed".to_owned(),
                r#"ep1 v2 {"position":20}"#.to_owned()
            ),
            (3, "doc_changed".to_owned(), "ep1 v3 null".to_owned()),
        ]
    );
    store.close().await;
}

async fn compare_and_set_refuses_another_version_and_names_the_current_one(db: TestDb) {
    let store = db.open().await;
    let mut create = write(
        "board:one",
        "card",
        DocumentEdit::Set(object(json!({"n": 1}))),
    );
    create.if_version = Some(0);
    store.write_document(create.clone()).await.unwrap();
    // Created only once: version 0 means "must not exist".
    match store.write_document(create).await {
        Err(StoreError::VersionConflict(current)) => {
            let current = current.expect("the document exists");
            assert_eq!(
                (current.version, current.data),
                (1, object(json!({"n": 1})))
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut stale = write(
        "board:one",
        "card",
        DocumentEdit::Set(object(json!({"n": 2}))),
    );
    stale.if_version = Some(5);
    assert!(matches!(
        store.write_document(stale.clone()).await,
        Err(StoreError::VersionConflict(_))
    ));
    stale.if_version = Some(1);
    assert_eq!(store.write_document(stale).await.unwrap().change.version, 2);
    // The refusals appended nothing: two events, offsets 1 and 2.
    let recovery = store
        .publications_after(APP, &channel("board:one"), 0, 10)
        .await
        .unwrap();
    assert_eq!(recovery.position.offset, 2);
    store.close().await;
}

async fn concurrent_increments_lose_nothing(db: TestDb) {
    let store = db.open().await;
    let increments = (0..100).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write_document(write(
                    "stats:live",
                    "viewers",
                    DocumentEdit::Increment {
                        field: "count".into(),
                        by: 1.into(),
                    },
                ))
                .await
                .map(|written| written.change.version)
        })
    });
    let mut versions = Vec::new();
    for increment in increments.collect::<Vec<_>>() {
        versions.push(increment.await.unwrap().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=100).collect::<Vec<u64>>());
    let document = store
        .document(APP, &channel("stats:live"), "viewers")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(document.data["count"], json!(100));
    store.close().await;
}

async fn a_document_over_the_limits_is_refused(db: TestDb) {
    let store = db.open().await;
    let big = "x".repeat(2000);
    assert!(matches!(
        store
            .write_document(write(
                "notes:a",
                "big",
                DocumentEdit::Set(object(json!({ "text": big })))
            ))
            .await,
        Err(StoreError::TooLarge { max: 1024, .. })
    ));
    let mut few = write("notes:a", "k0", DocumentEdit::Set(object(json!({}))));
    few.limits.max_documents = 2;
    store.write_document(few.clone()).await.unwrap();
    few.key = "k1".into();
    store.write_document(few.clone()).await.unwrap();
    // Rewriting an existing one is fine; a third is not.
    store.write_document(few.clone()).await.unwrap();
    few.key = "k2".into();
    assert!(matches!(
        store.write_document(few).await,
        Err(StoreError::Forbidden(_))
    ));
    store.close().await;
}

fn field(name: &str) -> DocumentField {
    DocumentField::new(name).unwrap()
}

fn keys(page: &parley_store::DocumentPage) -> Vec<&str> {
    page.documents
        .iter()
        .map(|document| document.key.as_str())
        .collect()
}

async fn a_list_filters_orders_and_pages_by_fields(db: TestDb) {
    let store = db.open().await;
    let progress = "progress:watch#42";
    let items = [
        (
            "a",
            json!({"completion": 10, "title": "Alpha", "kids": false}),
        ),
        ("b", json!({"completion": 95.5, "title": "Beta"})),
        (
            "c",
            json!({"completion": 50, "title": "Gamma", "kids": true}),
        ),
        ("d", json!({"completion": 89.9, "title": "Delta"})),
        ("e", json!({"title": "Epsilon", "completion": null})),
    ];
    for (key, data) in items {
        set(&store, progress, key, data).await;
    }
    let unfinished = Filter {
        field: field("completion"),
        condition: Condition::Compare(Comparison::Lt, Bound::Number(90.0)),
    };
    let query = |filters: Vec<Filter>, order_by, direction, limit| DocumentQuery {
        filters,
        order_by,
        direction,
        limit,
        after: None,
    };
    // Unfinished, most recent first: d was written after c, c after a.
    let page = store
        .documents(
            APP,
            &channel(progress),
            &query(
                vec![unfinished.clone()],
                DocumentOrderBy::UpdatedAt,
                Direction::Desc,
                20,
            ),
        )
        .await
        .unwrap();
    let mut got = keys(&page);
    // Writes in one millisecond tie on updated_at and fall back to the key.
    got.sort_unstable();
    assert_eq!(got, ["a", "c", "d"]);
    // By a field, paged two at a time with the cursor.
    let mut by_completion = query(
        vec![],
        DocumentOrderBy::Field(field("completion")),
        Direction::Desc,
        2,
    );
    let mut all = Vec::new();
    loop {
        let page = store
            .documents(APP, &channel(progress), &by_completion)
            .await
            .unwrap();
        all.extend(keys(&page).into_iter().map(str::to_owned));
        match page.next {
            Some(next) => by_completion.after = Some(next),
            None => break,
        }
    }
    // Numbers descending, then the one without a number.
    assert_eq!(all, ["b", "d", "c", "a", "e"]);
    let check = |condition: Condition, expected: &'static [&'static str], name: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .documents(
                    APP,
                    &channel(progress),
                    &query(
                        vec![Filter {
                            field: field(name),
                            condition: condition.clone(),
                        }],
                        DocumentOrderBy::Field(field("title")),
                        Direction::Asc,
                        20,
                    ),
                )
                .await
                .unwrap();
            assert_eq!(keys(&page), expected, "{name} {condition:?}");
        }
    };
    check(Condition::Eq(Scalar::Bool(true)), &["c"], "kids").await;
    check(
        Condition::Ne(Scalar::Bool(true)),
        &["a", "b", "d", "e"],
        "kids",
    )
    .await;
    check(Condition::Exists(true), &["a", "c"], "kids").await;
    check(Condition::Exists(false), &["b", "d", "e"], "kids").await;
    check(Condition::Eq(Scalar::Null), &["e"], "completion").await;
    check(Condition::Eq(Scalar::Number(50.0)), &["c"], "completion").await;
    check(
        Condition::In(vec![
            Scalar::String("Beta".into()),
            Scalar::String("Delta".into()),
        ]),
        &["b", "d"],
        "title",
    )
    .await;
    check(
        Condition::Compare(Comparison::Gte, Bound::String("Delta".into())),
        &["d", "e", "c"],
        "title",
    )
    .await;
    check(
        Condition::Compare(Comparison::Gt, Bound::Number(50.0)),
        &["b", "d"],
        "completion",
    )
    .await;
    store.close().await;
}
