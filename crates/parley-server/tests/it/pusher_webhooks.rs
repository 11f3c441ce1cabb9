//! Webhooks, received by a real HTTP receiver started in the test that
//! checks `X-Pusher-Key` and `X-Pusher-Signature`: batching, the hold-back
//! of `member_removed` and `channel_vacated` (cancelled by a quick
//! re-join), native activity, retries with backoff, and a restart between
//! queueing and delivery. Each scenario runs on SQLite and PostgreSQL.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::pusher::{KEY, Pusher};
use common::webhooks::Receiver;
use common::{Backend, TestDatabase, TestServer};
use parley_server::{Config, Server};
use serde_json::{Value, json};
use tokio::sync::oneshot;

common::on_both_backends!(
    events_are_batched_signed_and_held_back,
    failed_deliveries_are_retried_with_backoff,
    queued_webhooks_survive_a_restart,
    subscription_counts_are_sent_when_asked_for,
    nodes_sharing_a_store_deliver_each_webhook_once,
);

fn webhooks_to(config: &mut Config, url: &str, hold_back: Duration) {
    let app = &mut config.apps[0];
    app.pusher.enable_client_messages = true;
    app.webhooks.urls = vec![url.to_owned()];
    app.webhooks.batch_window = Duration::from_millis(150);
    app.webhooks.hold_back = hold_back;
}

async fn events_are_batched_signed_and_held_back(backend: Backend) {
    let mut receiver = Receiver::start(0).await;
    let hold_back = Duration::from_millis(1200);
    let server = TestServer::start_on(backend, |config| {
        webhooks_to(config, &receiver.url, hold_back)
    })
    .await;

    let mut ann = Pusher::open(&server).await;
    ann.subscribe_presence("presence-room", "ann").await;
    let events = receiver.events_until("member_added").await;
    assert_eq!(
        events,
        vec![
            json!({"name": "channel_occupied", "channel": "presence-room"}),
            json!({"name": "member_added", "channel": "presence-room", "user_id": "ann"}),
        ],
        "both in one batch"
    );

    // A quick unsubscribe and subscribe again makes no webhook at all.
    ann.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "presence-room"}}))
        .await;
    ann.subscribe_presence("presence-room", "ann").await;
    assert!(
        receiver
            .nothing_within(hold_back + Duration::from_millis(600))
            .await
    );

    // Client events are reported with their sender.
    let mut bob = Pusher::open(&server).await;
    bob.subscribe_presence("presence-room", "bob").await;
    assert_eq!(receiver.events_until("member_added").await.len(), 1);
    bob.send(json!({"event": "client-wave", "channel": "presence-room", "data": {"hi": 1}}))
        .await;
    let events = receiver.events_until("client_event").await;
    assert_eq!(
        events,
        vec![
            json!({"name": "client_event", "channel": "presence-room", "event": "client-wave",
                    "data": "{\"hi\":1}", "socket_id": bob.socket_id, "user_id": "bob"})
        ]
    );

    // Leaving for good: removed and vacated, after the hold-back.
    let left = Instant::now();
    drop(bob);
    drop(ann);
    let events = receiver.events_until("channel_vacated").await;
    assert!(
        left.elapsed() >= hold_back,
        "held back {:?}",
        left.elapsed()
    );
    let mut names: Vec<_> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["channel_vacated", "member_removed", "member_removed"]
    );

    // Native activity on the same core makes the same webhooks.
    let mut native = server.user("carol").await;
    native.ok("subscribe", json!({"channel": "news"})).await;
    let events = receiver.events_until("channel_occupied").await;
    assert_eq!(
        events,
        vec![json!({"name": "channel_occupied", "channel": "news"})]
    );
    drop(native);
    let events = receiver.events_until("channel_vacated").await;
    assert_eq!(
        events,
        vec![json!({"name": "channel_vacated", "channel": "news"})]
    );
    server.stop().await;
}

async fn failed_deliveries_are_retried_with_backoff(backend: Backend) {
    let mut receiver = Receiver::start(2).await;
    let server = TestServer::start_on(backend, |config| {
        webhooks_to(config, &receiver.url, Duration::ZERO);
    })
    .await;
    let started = Instant::now();
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("private-retry").await;
    let (at, body) = receiver.body().await;
    assert_eq!(
        body["events"],
        json!([{"name": "channel_occupied", "channel": "private-retry"}])
    );
    assert_eq!(
        receiver.requests.load(Ordering::SeqCst),
        3,
        "two failures, then delivered"
    );
    // Backoff: 1 s after the first failure, 2 s after the second.
    assert!(at - started >= Duration::from_secs(3), "{:?}", at - started);
    // The delivered row leaves the queue.
    let store = server.state.chat.store();
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.pending_webhooks("main").await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "a delivered webhook stayed queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// A server on `config` whose shutdown is the returned sender.
async fn run(
    config: Config,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(config).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

async fn queued_webhooks_survive_a_restart(backend: Backend) {
    // Everything fails until the restart.
    let mut receiver = Receiver::start(usize::MAX).await;
    let dir = tempfile::tempdir().unwrap();
    let database = (backend == Backend::Postgres).then(TestDatabase::create);
    let config = || {
        let mut config = common::test_config(dir.path());
        config.database_url = database.as_ref().map(TestDatabase::url);
        // Long enough that the vacated event is still held at shutdown.
        webhooks_to(&mut config, &receiver.url, Duration::from_secs(60));
        config
    };
    let (addr, stop, task) = run(config()).await;
    let url = format!("ws://{addr}/app/{KEY}?protocol=7");
    let mut client = common::Client::open(&url).await;
    client.next_json().await;
    client
        .send_text(&json!({"event": "pusher:subscribe", "data": {"channel": "kept"}}).to_string())
        .await;
    client.next_json().await;
    // The occupied event is queued and fails at least once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no delivery attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A connection still open at shutdown: its channel is vacated by the
    // shutdown itself, and that event is kept too.
    let mut open = common::Client::open(&url).await;
    open.next_json().await;
    open.send_text(&json!({"event": "pusher:subscribe", "data": {"channel": "open"}}).to_string())
        .await;
    open.next_json().await;
    let _ = stop.send(());
    task.await.unwrap();

    receiver.failures.store(0, Ordering::SeqCst);
    let (_, stop, task) = run(config()).await;
    let mut events = Vec::new();
    while events.len() < 4 {
        let (_, body) = receiver.body().await;
        events.extend(body["events"].as_array().unwrap().clone());
    }
    let position = |event: Value| events.iter().position(|e| *e == event);
    let occupied = position(json!({"name": "channel_occupied", "channel": "kept"}));
    let vacated = position(json!({"name": "channel_vacated", "channel": "kept"}));
    assert!(
        occupied.is_some() && vacated.is_some() && occupied < vacated,
        "{events:?}"
    );
    assert!(position(json!({"name": "channel_occupied", "channel": "open"})).is_some());
    assert!(position(json!({"name": "channel_vacated", "channel": "open"})).is_some());
    assert!(
        receiver.nothing_within(Duration::from_millis(500)).await,
        "{events:?}"
    );
    let _ = stop.send(());
    task.await.unwrap();
}

async fn subscription_counts_are_sent_when_asked_for(backend: Backend) {
    let mut receiver = Receiver::start(0).await;
    let server = TestServer::start_on(backend, |config| {
        webhooks_to(config, &receiver.url, Duration::ZERO);
        config.apps[0].webhooks.events = vec!["subscription_count".to_owned()];
    })
    .await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("counted").await;
    let mut bob = Pusher::open(&server).await;
    bob.subscribed("counted").await;
    let mut counts = Vec::new();
    while counts.last() != Some(&2) {
        let (_, body) = receiver.body().await;
        for event in body["events"].as_array().unwrap() {
            // Only the events asked for.
            assert_eq!(event["name"], "subscription_count", "{event}");
            counts.push(event["subscription_count"].as_u64().unwrap());
        }
    }
    assert_eq!(counts, [1, 2]);
    drop(bob);
    let (_, body) = receiver.body().await;
    assert_eq!(
        body["events"],
        json!([{"name": "subscription_count", "channel": "counted", "subscription_count": 1}])
    );
    server.stop().await;
}

/// Three nodes share one store (and so one webhook queue) and each runs a
/// deliverer; the receiver is slow, so the queue is long while all three
/// look at it. Each batch arrives once: a node claims a delivery before
/// sending it. (Before claims, 30 batches arrived as 86 requests.)
async fn nodes_sharing_a_store_deliver_each_webhook_once(backend: Backend) {
    const CHANNELS: usize = 24;
    let mut receiver = Receiver::answering_after(0, Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().unwrap();
    let database = (backend == Backend::Postgres).then(TestDatabase::create);
    let config = || {
        let mut config = common::test_config(dir.path());
        config.database_url = database.as_ref().map(TestDatabase::url);
        webhooks_to(&mut config, &receiver.url, Duration::ZERO);
        config.apps[0].webhooks.batch_window = Duration::from_millis(5);
        config
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(run(config()).await);
    }
    let url = format!("ws://{}/app/{KEY}?protocol=7", nodes[0].0);
    let mut client = common::Client::open(&url).await;
    client.next_json().await;
    for n in 0..CHANNELS {
        let subscribe = json!({"event": "pusher:subscribe", "data": {"channel": format!("c{n}")}});
        client.send_text(&subscribe.to_string()).await;
        client.next_json().await;
        // Past the batch window: a batch, and a queued delivery, each.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut occupied = Vec::new();
    let mut bodies = 0;
    while occupied.len() < CHANNELS {
        let (_, body) = receiver.body().await;
        bodies += 1;
        for event in body["events"].as_array().unwrap() {
            assert_eq!(event["name"], "channel_occupied", "{event}");
            occupied.push(event["channel"].as_str().unwrap().to_owned());
        }
    }
    // Every node has looked at the queue (they poll every two seconds)
    // while it was long; nothing more arrives.
    assert!(
        receiver.nothing_within(Duration::from_millis(2500)).await,
        "a batch was delivered twice"
    );
    occupied.sort();
    occupied.dedup();
    assert_eq!(occupied.len(), CHANNELS, "each channel_occupied once");
    assert_eq!(receiver.requests.load(Ordering::SeqCst), bodies);
    assert!(bodies > 3, "the batches queued up: {bodies}");
    drop(client);
    for (_, stop, task) in nodes {
        let _ = stop.send(());
        task.await.unwrap();
    }
}
