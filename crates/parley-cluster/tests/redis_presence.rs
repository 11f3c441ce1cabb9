//! Cluster presence against the Redis on 127.0.0.1:6379, each test under
//! its own prefix, with one `RedisPresence` per simulated node: concurrent
//! changes of one user on several nodes give exactly one join and one
//! leave, and each expired lease's leave is reported by one sweep only.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use parley_cluster::{RedisOptions, RedisPresence, RedisTls};
use parley_core::{
    ChannelName, ClientId, Lease, LeaseKey, PresenceChange, PresenceManager, PresenceStats,
    SessionAdded,
};

fn unique_prefix() -> String {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("parley-presence-test-{random:016x}")
}

async fn nodes(prefix: &str, count: usize) -> Vec<RedisPresence> {
    let mut nodes = Vec::new();
    for n in 0..count {
        let options = RedisOptions {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: prefix.to_owned(),
            node: format!("node-{n}"),
            stream_idle_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
            tls: RedisTls::default(),
        };
        let presence = RedisPresence::connect(&options)
            .await
            .expect("Redis answers on 127.0.0.1:6379");
        nodes.push(presence);
    }
    nodes
}

/// A connection's lease. Every simulated node numbers its clients alike,
/// as real nodes may: the node's name keeps them apart.
fn lease(sequence: u64, user: &str, state: Option<&'static str>) -> Lease {
    Lease {
        key: LeaseKey::Client(ClientId { node: 1, sequence }),
        user: user.into(),
        info: Arc::default(),
        state: state.map(|state| Bytes::from_static(state.as_bytes())),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn concurrent_leases_of_one_user_on_three_nodes_give_one_join_and_one_leave() {
    let nodes = nodes(&unique_prefix(), 3).await;
    let channel = ChannelName::new("room:busy").unwrap();
    let adds = (0..30).map(|n| {
        let node = &nodes[n % 3];
        node.add("main", &channel, lease(n as u64 / 3, "ann", None), MINUTE)
    });
    let changes: Vec<_> = join_all(adds)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let joins = changes
        .iter()
        .filter(|change| matches!(change, Some(PresenceChange::Joined(_))))
        .count();
    assert_eq!(joins, 1, "{changes:?}");
    let stats = nodes[0].stats("main", &channel).await.unwrap();
    assert_eq!(
        stats,
        PresenceStats {
            num_users: 1,
            num_connections: 30,
            num_anonymous: 0
        }
    );
    let page = nodes[1].members("main", &channel, None, 10).await.unwrap();
    assert_eq!(page.members.len(), 1);
    assert_eq!(page.members[0].connections.len(), 30);

    let (nodes, channel) = (&nodes, &channel);
    let removes = (0..30).map(|n| {
        let key = LeaseKey::Client(ClientId {
            node: 1,
            sequence: n as u64 / 3,
        });
        async move { nodes[n % 3].remove("main", channel, &key).await }
    });
    let left: Vec<_> = join_all(removes)
        .await
        .into_iter()
        .filter_map(Result::unwrap)
        .collect();
    assert_eq!(left, [Arc::<str>::from("ann")], "one leave");
    assert_eq!(
        nodes[2].stats("main", channel).await.unwrap(),
        PresenceStats::default()
    );
}

#[tokio::test]
async fn an_expired_lease_is_reported_by_one_sweeping_node_only() {
    let nodes = nodes(&unique_prefix(), 3).await;
    let channel = ChannelName::new("room:expiring").unwrap();
    for n in 0..5u64 {
        let user = format!("user-{n}");
        nodes[0]
            .add(
                "main",
                &channel,
                lease(n, &user, None),
                Duration::from_millis(100),
            )
            .await
            .unwrap();
    }
    nodes[1]
        .add(
            "main",
            &channel,
            lease(9, "", None),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
    nodes[2]
        .add("main", &channel, lease(0, "stays", None), MINUTE)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let sweeps = join_all(nodes.iter().map(|node| node.expire())).await;
    let mut reported: HashMap<String, usize> = HashMap::new();
    let mut leases = 0;
    for expired in sweeps.into_iter().flat_map(Result::unwrap) {
        assert_eq!(
            (&*expired.app, expired.channel.as_str()),
            ("main", "room:expiring")
        );
        leases += expired.leases;
        for user in expired.left {
            *reported.entry(user.to_string()).or_default() += 1;
        }
    }
    assert_eq!(leases, 6, "five users' leases and the anonymous one");
    let expected: HashMap<String, usize> = (0..5).map(|n| (format!("user-{n}"), 1)).collect();
    assert_eq!(reported, expected, "each leave once");
    let page = nodes[0].members("main", &channel, None, 10).await.unwrap();
    let users: Vec<&str> = page.members.iter().map(|member| &*member.user).collect();
    assert_eq!(users, ["stays"]);
    assert!(nodes[1].expire().await.unwrap().is_empty(), "nothing twice");
}

#[tokio::test]
async fn states_pages_anonymous_viewers_and_the_session_cap() {
    let prefix = unique_prefix();
    let nodes = nodes(&prefix, 2).await;
    let channel = ChannelName::new("stream:a").unwrap();
    for (n, user) in ["c", "a", "d", "b"].iter().enumerate() {
        nodes[n % 2]
            .add("main", &channel, lease(n as u64, user, None), MINUTE)
            .await
            .unwrap();
    }
    let first = nodes[0].members("main", &channel, None, 2).await.unwrap();
    let users: Vec<&str> = first.members.iter().map(|member| &*member.user).collect();
    assert_eq!((users, first.next.as_deref()), (vec!["a", "b"], Some("b")));
    let second = nodes[1]
        .members("main", &channel, first.next.as_deref(), 2)
        .await
        .unwrap();
    let users: Vec<&str> = second.members.iter().map(|member| &*member.user).collect();
    assert_eq!((users, second.next), (vec!["c", "d"], None));

    // A state on a second lease is the member's new state; each lease keeps
    // its own; a renewal repeating it changes nothing.
    let change = nodes[1]
        .add("main", &channel, lease(7, "a", Some(r#"{"d":2}"#)), MINUTE)
        .await
        .unwrap();
    assert!(
        matches!(change, Some(PresenceChange::StateReplaced(_))),
        "{change:?}"
    );
    let again = nodes[1]
        .add("main", &channel, lease(7, "a", Some(r#"{"d":2}"#)), MINUTE)
        .await
        .unwrap();
    assert_eq!(again, None);
    let member = nodes[1]
        .set_state(
            "main",
            &channel,
            &LeaseKey::Client(ClientId {
                node: 1,
                sequence: 1,
            }),
            Bytes::from_static(br#"{"d":1}"#),
        )
        .await
        .unwrap()
        .expect("a's first lease is node 1's, with sequence 1");
    let states: Vec<Option<&[u8]>> = member
        .connections
        .iter()
        .map(|connection| connection.state.as_deref())
        .collect();
    assert_eq!(states, [Some(&br#"{"d":1}"#[..]), Some(&br#"{"d":2}"#[..])]);
    assert_eq!(member.state.as_deref(), Some(&br#"{"d":1}"#[..]));

    // Sessions are shared by the deployment: the cap counts every node's.
    let session = |id: &str, user: &str| Lease {
        key: LeaseKey::Session(id.into()),
        ..lease(0, user, None)
    };
    assert!(matches!(
        nodes[0]
            .add_session("main", &channel, session("s1", ""), MINUTE, 2)
            .await,
        Ok(SessionAdded::Added(None))
    ));
    assert!(matches!(
        nodes[1]
            .add_session("main", &channel, session("s2", ""), MINUTE, 2)
            .await,
        Ok(SessionAdded::Added(None))
    ));
    assert_eq!(
        nodes[0]
            .add_session("main", &channel, session("s3", ""), MINUTE, 2)
            .await
            .unwrap(),
        SessionAdded::Full
    );
    assert!(
        matches!(
            nodes[0]
                .add_session("main", &channel, session("s2", ""), MINUTE, 2)
                .await,
            Ok(SessionAdded::Added(None))
        ),
        "a known session is renewed from any node"
    );
    let viewers = nodes[1].anonymous("main", &channel, 10).await.unwrap();
    assert_eq!(viewers.len(), 2);
    assert_eq!(
        nodes[1].stats("main", &channel).await.unwrap(),
        PresenceStats {
            num_users: 4,
            num_connections: 5,
            num_anonymous: 2
        }
    );
    assert!(
        nodes[0]
            .renew("main", &channel, &LeaseKey::Session("s1".into()), MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !nodes[0]
            .renew("main", &channel, &LeaseKey::Session("gone".into()), MINUTE)
            .await
            .unwrap()
    );

    // Every key expires by itself, so a deployment that stops leaves
    // nothing behind.
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 5, "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no expiry");
    }
}
