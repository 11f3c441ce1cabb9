//! The Redis broker against the Redis on 127.0.0.1:6379, each test under
//! its own prefix: the same recovery contract as the memory broker, and
//! delivery to a node's handler.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use parley_cluster::{RedisBroker, RedisOptions, RedisTls};
use parley_core::{Broker, BrokerEventHandler, ChannelName, HistoryOptions, Publication};

#[derive(Default)]
struct Recorder {
    publications: Mutex<Vec<u64>>,
}

impl BrokerEventHandler for Recorder {
    fn handle_publication(&self, _: &str, publication: Arc<Publication>) {
        self.publications.lock().push(publication.position.offset);
    }

    fn handle_gap(&self, _: &str, _: &ChannelName) -> usize {
        0
    }
}

async fn broker(handler: Arc<Recorder>) -> RedisBroker {
    broker_under(handler, &unique_prefix()).await
}

fn unique_prefix() -> String {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("parley-broker-test-{random:016x}")
}

async fn broker_under(handler: Arc<Recorder>, prefix: &str) -> RedisBroker {
    let options = RedisOptions {
        url: "redis://127.0.0.1:6379".to_owned(),
        tls: RedisTls::default(),
        prefix: prefix.to_owned(),
        node: "test".to_owned(),
        stream_idle_ttl: Duration::from_secs(60),
        timeout: Duration::from_secs(2),
    };
    RedisBroker::connect(options)
        .await
        .expect("Redis answers on 127.0.0.1:6379")
        .start(handler, None)
}

fn offsets(publications: &[Arc<Publication>]) -> Vec<u64> {
    publications.iter().map(|p| p.position.offset).collect()
}

#[tokio::test]
async fn history_is_bounded_and_recovery_says_when_it_is_complete() {
    let broker = broker(Arc::default()).await;
    let channel = ChannelName::new("c").unwrap();
    let history = HistoryOptions {
        size: 3,
        ttl: Duration::ZERO,
    };
    let mut epoch = None;
    for n in 1..=5u64 {
        let position = broker
            .publish("a", &channel, Bytes::from(n.to_string()), None, history)
            .await
            .unwrap();
        assert_eq!(position.offset, n);
        assert_eq!(epoch.get_or_insert(position.epoch.clone()), &position.epoch);
    }
    let slice = broker.recover("a", &channel, 2, 10).await.unwrap();
    assert_eq!(
        (offsets(&slice.publications), slice.complete),
        (vec![3, 4, 5], true)
    );
    assert_eq!(&slice.publications[0].data[..], b"3");
    assert!(
        !broker.recover("a", &channel, 1, 10).await.unwrap().complete,
        "offset 2 was pushed out"
    );
    assert!(
        !broker.recover("a", &channel, 2, 2).await.unwrap().complete,
        "past the limit"
    );
    assert!(
        broker.recover("a", &channel, 5, 10).await.unwrap().complete,
        "nothing missed"
    );
    assert!(
        !broker.recover("a", &channel, 6, 10).await.unwrap().complete,
        "ahead of the stream"
    );
    assert!(
        !broker
            .recover("a", &channel, u64::MAX, 10)
            .await
            .unwrap()
            .complete
    );

    // Another app's channel of the same name is another stream.
    let position = broker.position("b", &channel).await.unwrap();
    assert_eq!(position.offset, 0);
    assert_eq!(
        broker.position("b", &channel).await.unwrap(),
        position,
        "the epoch is kept"
    );

    // Without history nothing is kept, and nothing missed can be recovered.
    let bare = ChannelName::new("bare").unwrap();
    for _ in 0..2 {
        broker
            .publish("a", &bare, Bytes::new(), None, HistoryOptions::default())
            .await
            .unwrap();
    }
    let slice = broker.recover("a", &bare, 0, 10).await.unwrap();
    assert!(slice.publications.is_empty() && !slice.complete);
    assert!(broker.recover("a", &bare, 2, 10).await.unwrap().complete);
}

#[tokio::test]
async fn expired_history_is_not_recovered() {
    let broker = broker(Arc::default()).await;
    let channel = ChannelName::new("c").unwrap();
    let history = HistoryOptions {
        size: 10,
        ttl: Duration::from_millis(300),
    };
    for _ in 0..2 {
        broker
            .publish("a", &channel, Bytes::new(), None, history)
            .await
            .unwrap();
    }
    assert_eq!(
        broker
            .recover("a", &channel, 0, 10)
            .await
            .unwrap()
            .publications
            .len(),
        2
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let slice = broker.recover("a", &channel, 0, 10).await.unwrap();
        if slice.publications.is_empty() {
            assert!(!slice.complete, "the missed publications expired");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "history expires");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(broker.recover("a", &channel, 2, 10).await.unwrap().complete);
}

#[tokio::test]
async fn a_subscribed_node_gets_every_publication_in_order_until_it_unsubscribes() {
    let recorder = Arc::new(Recorder::default());
    let broker = broker(recorder.clone()).await;
    let channel = ChannelName::new("c").unwrap();
    broker
        .publish("a", &channel, Bytes::new(), None, HistoryOptions::default())
        .await
        .unwrap();
    broker.subscribe("a", &channel).await.unwrap();
    for _ in 0..50 {
        broker
            .publish("a", &channel, Bytes::new(), None, HistoryOptions::default())
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while recorder.publications.lock().len() < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "every publication arrives"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *recorder.publications.lock(),
        (2..=51).collect::<Vec<u64>>()
    );
    broker.unsubscribe("a", &channel).await.unwrap();
    broker
        .publish("a", &channel, Bytes::new(), None, HistoryOptions::default())
        .await
        .unwrap();
    // Redis sends one connection's messages in the order they were
    // published: once the marker, published after offset 52, is here,
    // offset 52 would have been too, had the node still listened.
    let marker = ChannelName::new("marker").unwrap();
    broker.subscribe("a", &marker).await.unwrap();
    let marked = broker
        .publish("a", &marker, Bytes::new(), None, HistoryOptions::default())
        .await
        .unwrap();
    while !recorder.publications.lock().contains(&marked.offset) {
        assert!(tokio::time::Instant::now() < deadline, "the marker arrives");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recorder.publications.lock().len(),
        51,
        "offset 52 was not delivered"
    );
}

#[tokio::test]
async fn quick_leaves_and_rejoins_leave_the_node_listening() {
    let recorder = Arc::new(Recorder::default());
    let prefix = unique_prefix();
    let broker = broker_under(recorder.clone(), &prefix).await;
    let channel = ChannelName::new("c").unwrap();
    broker.subscribe("a", &channel).await.unwrap();
    // The last subscriber leaves as another arrives, in either order.
    for _ in 0..20 {
        let (left, joined) = tokio::join!(
            broker.unsubscribe("a", &channel),
            broker.subscribe("a", &channel)
        );
        left.unwrap();
        joined.unwrap();
    }
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let (_, listeners): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(format!("{prefix}:topic:1.a:c"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(listeners, 1);
    let position = broker
        .publish("a", &channel, Bytes::new(), None, HistoryOptions::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !recorder.publications.lock().contains(&position.offset) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the publication arrives"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
