//! The scenarios, and what they share: the protocol client, the counters,
//! and running then ending the connections' tasks.
//!
//! - [`fanout`]: channels with subscribers, publications at a rate (also
//!   the engine of [`broadcast`]).
//! - [`broadcast`]: one channel, every connection subscribed.
//! - [`idle`]: held connections and the server's memory per connection.
//! - [`connect`]: the connection rate and handshake time.
//! - [`presence_storm`]: every connection joins one presence channel at
//!   once.
//! - [`chat`]: every connection writes chat messages to a persisted
//!   namespace.
//! - [`docs`]: live documents written while live queries watch them.
//! - [`reconnect_storm`]: every connection drops at once, reconnects and
//!   recovers what it missed.
//! - [`soak`]: connections come and go for a long time; the server's
//!   memory growth.

pub mod broadcast;
pub mod chat;
pub mod connect;
pub mod crowd;
pub mod docs;
pub mod fanout;
pub mod idle;
pub mod presence_storm;
pub mod reconnect_storm;
mod requests;
pub mod soak;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::{CommonArgs, Scenario};
use crate::driver::{self, Publishing, Shared};
use crate::metrics::Tally;
use crate::plan;
use crate::protocol::{Client, Conn, Protocol};
use crate::report::{Disconnects, Report};
use crate::setup::{self, Opened, Opening};
use crate::socket::Dialer;
use crate::target::Target;

/// How long connections' tasks get to close at the end of a run.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs the chosen scenario. `open_files_limit` is reported.
pub async fn run(scenario: Scenario, open_files_limit: u64) -> Result<Report, String> {
    match scenario {
        Scenario::Fanout(args) => fanout::run(args, open_files_limit).await,
        Scenario::Broadcast(args) => broadcast::run(args, open_files_limit).await,
        Scenario::Idle(args) => idle::run(args, open_files_limit).await,
        Scenario::Connect(args) => connect::run(args, open_files_limit).await,
        Scenario::PresenceStorm(args) => presence_storm::run(args, open_files_limit).await,
        Scenario::Chat(args) => chat::run(args, open_files_limit).await,
        Scenario::Docs(args) => docs::run(args, open_files_limit).await,
        Scenario::ReconnectStorm(args) => reconnect_storm::run(args, open_files_limit).await,
        Scenario::Soak(args) => soak::run(args, open_files_limit).await,
    }
}

/// What every scenario works with.
#[derive(Debug)]
pub struct Env {
    /// The flags every scenario has.
    pub common: CommonArgs,
    /// The protocol client.
    pub client: Arc<Client>,
    /// The counters.
    pub tally: Arc<Tally>,
    /// The open-file limit, for the report.
    pub open_files_limit: u64,
}

impl Env {
    /// Resolves the server and builds the protocol client.
    pub async fn new(common: CommonArgs, open_files_limit: u64) -> Result<Self, String> {
        if common.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        let mut targets = Vec::with_capacity(common.url.len());
        for url in &common.url {
            targets.push(Target::resolve(url).await?);
        }
        let nodes = targets
            .into_iter()
            .map(|target| {
                let dialer = Dialer::new(target.addr, common.source_ips.as_ref());
                (target, dialer)
            })
            .collect();
        // Tokens outlive every phase of the run.
        let token_ttl = common.open_timeout + common.duration + Duration::from_secs(3600);
        let client = Client::new(
            common.protocol,
            nodes,
            common.credentials.credentials(),
            token_ttl,
            common.step_timeout,
        )?;
        if let Some(sources) = &common.source_ips {
            eprintln!("client sockets bind to {sources}");
        }
        Ok(Self {
            common,
            client: Arc::new(client),
            tally: Arc::new(Tally::for_this_machine()),
            open_files_limit,
        })
    }

    /// The channel name prefix; `private` asks for Pusher private channels
    /// (which client events need).
    pub fn channel_prefix(&self, private: bool) -> Result<String, String> {
        let prefix = match &self.common.channel_prefix {
            Some(prefix) => prefix.clone(),
            None if private => format!("private-{}", self.common.protocol.default_channel_prefix()),
            None => self.common.protocol.default_channel_prefix().to_owned(),
        };
        plan::check_prefix(&prefix)?;
        if private && !prefix.starts_with("private-") {
            return Err(format!(
                "Pusher client events need private channels: {prefix:?} must start with \"private-\""
            ));
        }
        Ok(prefix)
    }

    /// Opens `--connections` connections with no subscriptions, at most
    /// `--connect-concurrency` handshakes at a time, giving up on more after
    /// `within`.
    pub async fn open_unsubscribed(&self, within: Duration) -> Opened {
        setup::open_all(
            self.client.clone(),
            Opening {
                count: self.common.connections,
                concurrency: self.common.connect_concurrency,
                deadline: Instant::now() + within,
                subscriptions: None,
            },
            self.tally.clone(),
        )
        .await
    }

    /// A report with the run's identity and the counters' errors and
    /// disconnects filled in.
    pub fn report(&self, scenario: &str, settings: BTreeMap<String, String>) -> Report {
        Report {
            scenario: scenario.to_owned(),
            protocol: match self.common.protocol {
                Protocol::Native => "native",
                Protocol::Pusher => "pusher",
            }
            .to_owned(),
            url: self.common.url.join(","),
            settings,
            disconnects: Disconnects::from_tally(&self.tally),
            errors: self.tally.errors(),
            ..Report::default()
        }
    }
}

/// The running connections of a run.
#[derive(Debug)]
pub struct Running {
    tasks: JoinSet<()>,
    end: CancellationToken,
}

impl Running {
    /// Starts driving `conns`; `publishing` says what each one publishes.
    pub fn start(
        env: &Env,
        conns: Vec<Conn>,
        mut publishing: impl FnMut(&Conn) -> Option<Publishing>,
    ) -> Self {
        let end = CancellationToken::new();
        let shared = Arc::new(Shared {
            client: env.client.clone(),
            tally: env.tally.clone(),
            end: end.clone(),
        });
        let mut tasks = JoinSet::new();
        for conn in conns {
            let publishes = publishing(&conn);
            tasks.spawn(driver::drive(conn, shared.clone(), publishes));
        }
        Self { tasks, end }
    }

    /// Closes every connection and waits (bounded) for their tasks.
    pub async fn finish(mut self) {
        self.end.cancel();
        let closing = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(CLOSE_GRACE, closing).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// The settings map of a report from `(name, value)` pairs.
pub fn settings<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}
