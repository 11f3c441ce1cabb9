//! Spreading connections over the nodes of a cluster: several `--url`s,
//! two Parley nodes sharing channels through the Redis on 127.0.0.1:6379.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parley_server::config::BrokerKind;
use tokio::net::{TcpListener, TcpStream};

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanout_over_two_nodes_spreads_the_subscribers_and_loses_nothing() {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    let prefix = format!("parley-bench-test-{random:016x}");
    let node = |prefix: String| {
        TestServer::start_with(move |config| {
            config.cluster.broker = BrokerKind::Redis;
            config.cluster.prefix = prefix;
        })
    };
    let a = node(prefix.clone()).await;
    let b = node(prefix).await;
    // B is reached through a proxy that counts the connections it carries.
    let (proxy, opened) = counting_proxy(b.addr).await;
    let urls = format!("http://{},http://{proxy}", a.addr);
    let me = std::process::id();
    let report = a
        .bench_on(
            &urls,
            &format!("{me},{me}"),
            &[
                "fanout",
                "--connections",
                "20",
                "--channels",
                "2",
                "--duration",
                "1s",
                "--rate",
                "100",
            ],
        )
        .await;
    let deliveries = report.deliveries.as_ref().unwrap();
    let publications = report.publications.as_ref().unwrap();
    assert_eq!(report.connections.open, 20);
    assert!(publications.accepted > 0, "{report:#?}");
    assert_eq!(publications.failed, 0, "{report:#?}");
    assert_eq!(deliveries.delivered, deliveries.expected, "{report:#?}");
    assert_eq!(
        opened.load(Ordering::SeqCst),
        10,
        "every second connection opens on the second node"
    );
    assert_eq!(report.server.as_ref().unwrap().processes, 2);
    a.stop().await;
    b.stop().await;
}

/// A TCP proxy on 127.0.0.1:0 to `target`, and how many connections it
/// has carried.
async fn counting_proxy(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    let counted = opened.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, opened)
}
