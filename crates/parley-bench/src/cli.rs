//! The `parley-bench` command line: one subcommand per scenario, with the
//! flags every scenario shares.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::credentials::Credentials;
use crate::fleet::Share;
use crate::measure::ServerPids;
use crate::protocol::Protocol;
use crate::scenario::reconnect_storm::Spread;
use crate::socket::SourceIps;

/// Load generator for Parley and other Pusher-compatible realtime servers.
///
/// Drives a running server over real WebSocket connections, prints a
/// progress line each second on stderr and a table on stdout at the end.
#[derive(Debug, Parser)]
#[command(name = "parley-bench", version, about, long_about)]
pub struct Cli {
    /// Worker threads of the generator's (multi-threaded) runtime
    /// [default: 1 on a machine of two cores or fewer, else one per core].
    /// On a machine shared with the server, fewer threads leave it more
    /// room and cost less CPU per delivery.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// The scenario to run.
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Connections subscribed to channels (each channel with the same
    /// number of subscribers), publications to those channels at a rate.
    Fanout(FanoutArgs),
    /// Every connection subscribed to one channel, publications to it at a
    /// rate.
    Broadcast(BroadcastArgs),
    /// Hold connections open and report the server's memory per connection.
    Idle(IdleArgs),
    /// Open connections (with token verification) as fast as the server
    /// takes them; report the rate and the handshake time.
    Connect(ConnectArgs),
    /// Open connections, then subscribe them all at once to one channel
    /// with presence; report how long the storm took and the presence
    /// pushes every connection received.
    PresenceStorm(PresenceStormArgs),
    /// Every connection writes chat messages (`message_send`, native
    /// protocol) to a persisted namespace; report messages stored per
    /// second and the time from send to acknowledgement (after commit).
    Chat(ChatArgs),
    /// Of the connections, `--watchers` hold a live query over a channel
    /// of live documents while the others write its documents
    /// (`doc_merge`, native protocol); report writes per second, the time
    /// to acknowledgement, and the time from a write to the
    /// `query_changed` push that shows it to each watcher.
    Docs(DocsArgs),
    /// Connections follow channels that are published to throughout; at
    /// a moment every connection drops at once (no close frame) and
    /// reconnects, re-subscribing from its last stream position; report
    /// how long until all are reconnected and have recovered what they
    /// missed, and any gap.
    ReconnectStorm(ReconnectStormArgs),
    /// Connections come and go at a bounded rate for a long time (connect,
    /// subscribe, presence, publish, a chat message to a persisted
    /// namespace, close) while the server's memory is sampled; report its
    /// growth from `--baseline-at` to the end.
    Soak(SoakArgs),
}

impl Scenario {
    /// The flags every scenario has.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Scenario::Fanout(args) => &args.common,
            Scenario::Broadcast(args) => &args.common,
            Scenario::Idle(args) => &args.common,
            Scenario::Connect(args) => &args.common,
            Scenario::PresenceStorm(args) => &args.common,
            Scenario::Chat(args) => &args.common,
            Scenario::Docs(args) => &args.common,
            Scenario::ReconnectStorm(args) => &args.common,
            Scenario::Soak(args) => &args.common,
        }
    }
}

/// Flags every scenario has.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The server's base URL. For a cluster, repeat it (or separate URLs
    /// with commas): connection `i` opens on URL `i mod n`, and publishing
    /// over HTTP, like every other HTTP call, goes to the first.
    #[arg(
        long,
        default_value = "http://127.0.0.1:7070",
        value_delimiter = ',',
        required = false
    )]
    pub url: Vec<String>,
    /// The protocol to speak.
    #[arg(long, value_enum, default_value_t = Protocol::Native)]
    pub protocol: Protocol,
    /// Connections to open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// How long the measured phase lasts (publishing, holding, or opening
    /// for `connect`), such as 10s or 1m.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The server's process id, to report its CPU and memory from /proc;
    /// for a cluster, every node's, comma-separated (they are summed).
    #[arg(long)]
    pub server_pid: Option<ServerPids>,
    /// Source addresses for client sockets, such as 127.0.0.2-127.0.0.9 or
    /// a comma-separated list, used in turn.
    #[arg(long)]
    pub source_ips: Option<SourceIps>,
    /// Connection handshakes in flight at once while opening (all
    /// `--processes` together).
    #[arg(long, default_value_t = 128)]
    pub connect_concurrency: usize,
    /// The most time opening connections may take (before the measured
    /// phase of scenarios other than `connect`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub open_timeout: Duration,
    /// The most time one connection's handshake (or its subscriptions) may
    /// take.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub step_timeout: Duration,
    /// Prefix of channel names [default: `bench:` for native, `bench-` for
    /// Pusher, `private-bench-` for Pusher client events].
    #[arg(long)]
    pub channel_prefix: Option<String>,
    /// Generator processes holding the connections (fanout, broadcast,
    /// idle, connect): this one starts N workers, each opening every Nth
    /// connection, and publishes and reports for the whole run. One
    /// process holds at most its open-file limit of sockets.
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// Run as worker `i/N` of a `--processes N` run (set by the parent).
    #[arg(long, hide = true)]
    pub worker: Option<Share>,
    /// The app's credentials.
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

impl CommonArgs {
    /// The first `--url`: where HTTP calls (publishing, counters) go.
    pub fn first_url(&self) -> &str {
        self.url.first().map_or("", String::as_str)
    }
}

/// The app's credentials.
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// The app id (Pusher HTTP API paths).
    #[arg(long, env = "PARLEY_APP_ID", default_value = "default")]
    pub app_id: String,
    /// The app key (Pusher connection URLs and signatures).
    #[arg(long, env = "PARLEY_APP_KEY")]
    pub app_key: Option<String>,
    /// The app secret: signs native tokens and Pusher requests.
    #[arg(long, env = "PARLEY_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// The server HTTP API key (native HTTP publishing).
    #[arg(long, env = "PARLEY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl CredentialArgs {
    /// The credentials these flags give.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            app_id: self.app_id.clone(),
            app_key: self.app_key.clone(),
            app_secret: self.app_secret.clone(),
            api_key: self.api_key.clone(),
        }
    }
}

/// How publications are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublishVia {
    /// Through the server's HTTP API, over kept-alive connections.
    Http,
    /// From the subscribed connections (native `publish`, Pusher client
    /// events on private channels).
    Ws,
}

impl PublishVia {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            PublishVia::Http => "http",
            PublishVia::Ws => "ws",
        }
    }
}

/// Flags of the scenarios that publish.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Publications per second, all publishers together [default: 1000 for
    /// fanout, 10 for broadcast].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Size of each payload in bytes (the JSON object with the timestamp,
    /// sequence number and padding).
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,
    /// How publications are sent.
    #[arg(long, value_enum, default_value_t = PublishVia::Http)]
    pub publish_via: PublishVia,
    /// The most publications one HTTP request carries; the publications due
    /// when a request goes out are sent together (native: up to 1000 with
    /// /api/v1/batch; Pusher: up to 10 with batch_events) [default: 100 for
    /// fanout, 1 for broadcast].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Kept-alive HTTP connections publishing in parallel.
    #[arg(long, default_value_t = 2)]
    pub http_connections: usize,
    /// With `--publish-via ws`: how many subscribed connections publish
    /// [default: all for fanout, 1 for broadcast].
    #[arg(long)]
    pub publishers: Option<usize>,
    /// Stop after this many publications, even before the duration ends.
    #[arg(long)]
    pub max_publications: Option<u64>,
    /// How long to wait after publishing for deliveries still on their
    /// way; what has not arrived by then counts as lost.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
}

/// `parley-bench fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Flags every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Channels published to.
    #[arg(long, default_value_t = 100)]
    pub channels: usize,
    /// Subscribers per channel [default: connections / channels].
    #[arg(long)]
    pub subscribers: Option<usize>,
    /// The publishing.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `parley-bench broadcast`.
#[derive(Debug, Clone, Args)]
pub struct BroadcastArgs {
    /// Flags every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The publishing.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `parley-bench idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Flags every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Channels to spread the connections over (each connection subscribes
    /// to one); 0 subscribes to none.
    #[arg(long, default_value_t = 0)]
    pub channels: usize,
    /// How long to let the server settle before each memory sample.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
}

/// `parley-bench connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Flags every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `parley-bench presence-storm`.
#[derive(Debug, Clone, Args)]
pub struct PresenceStormArgs {
    /// Flags every scenario has (`--duration` bounds the storm).
    #[command(flatten)]
    pub common: CommonArgs,
    /// The channel, in a namespace with presence [default: `room:storm`
    /// for native, `presence-storm` for Pusher].
    #[arg(long)]
    pub channel: Option<String>,
    /// The storm is over once every connection is subscribed and no
    /// presence push arrived for this long (or at the end of
    /// `--duration`).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub quiet: Duration,
}

/// `parley-bench chat`.
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Flags every scenario has (`--channel-prefix` names a namespace with
    /// `persist = true` [default: `chat:bench-`]).
    #[command(flatten)]
    pub common: CommonArgs,
    /// Channels written to; connection `i` writes to channel `i % channels`.
    #[arg(long, default_value_t = 10)]
    pub channels: usize,
    /// Messages per second, all connections together; 0 lets each
    /// connection send its next message as soon as the previous one is
    /// acknowledged.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Bytes of text per message (at least 16).
    #[arg(long, default_value_t = 100)]
    pub text_bytes: usize,
}

/// `parley-bench docs`.
#[derive(Debug, Clone, Args)]
pub struct DocsArgs {
    /// Flags every scenario has (`--channel-prefix` names a namespace with
    /// `documents = true` where clients may write [default:
    /// `docs:bench-`]; `--connections` counts writers and watchers).
    #[command(flatten)]
    pub common: CommonArgs,
    /// Connections that watch (the first ones); the others write.
    #[arg(long, default_value_t = 10)]
    pub watchers: usize,
    /// Documents the writers spread their writes over.
    #[arg(long, default_value_t = 100)]
    pub keys: usize,
}

/// `parley-bench soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Flags every scenario has. `--connections` bounds the cycles running
    /// at once; `--duration` is the whole soak (such as 30m);
    /// `--server-pid` is required.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Connection cycles started per second.
    #[arg(long, default_value_t = 20.0)]
    pub cycle_rate: f64,
    /// Channels of each kind; cycle `i` uses channel `i % channels`.
    #[arg(long, default_value_t = 10)]
    pub channels: usize,
    /// Distinct users the cycles connect as, in turn (cycle `i` is user
    /// `bench-{i % users}`), as users who come back; 0 makes every cycle a
    /// new user, so that state the server keeps per user (the last-seen
    /// time of user status, 7 days) shows as growth.
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// Prefix of the channels subscribed and published to (a namespace
    /// that allows publishing).
    #[arg(long, default_value = "bench:soak-")]
    pub stream_prefix: String,
    /// Prefix of the presence channels (a namespace with presence).
    #[arg(long, default_value = "room:soak-")]
    pub presence_prefix: String,
    /// Prefix of the chat channels (a namespace with `persist = true`).
    #[arg(long, default_value = "chat:soak-")]
    pub chat_prefix: String,
    /// Read the server's `/metrics` this often (never by default).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub scrape_every: Option<Duration>,
    /// Read the server's RSS this often.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub sample_every: Duration,
    /// The RSS sample the growth is measured from: the first at or after
    /// this time, once start-up and warm-up are over.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub baseline_at: Duration,
}

/// `parley-bench reconnect-storm`.
#[derive(Debug, Clone, Args)]
pub struct ReconnectStormArgs {
    /// Flags every scenario has. `--duration` bounds each storm (from the
    /// drop until every client is back); `--channel-prefix` names a
    /// namespace that keeps history, in memory or persisted [default:
    /// `recovery:bench-` for native, `bench-` for Pusher].
    #[command(flatten)]
    pub common: CommonArgs,
    /// Channels; connection `i` follows channel `i % channels`.
    #[arg(long, default_value_t = 100)]
    pub channels: usize,
    /// How many times every connection drops at once and comes back.
    #[arg(long, default_value_t = 1)]
    pub storms: usize,
    /// How long each client waits after the drop before reconnecting:
    /// `2s` spreads the clients uniformly over 0 to 2 s, `500ms..2s` over
    /// that range; `0s` reconnects all at once.
    #[arg(long, default_value = "0s")]
    pub reconnect_spread: Spread,
    /// How long the clients stay connected before the first storm,
    /// between storms and after the last (publishing all the while).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Publications per second to all channels together (in turn),
    /// through the HTTP API, for the whole run.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Size of each payload in bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,
    /// The most publications one HTTP request carries (native: up to
    /// 1000; Pusher: up to 10).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Kept-alive HTTP connections publishing in parallel.
    #[arg(long, default_value_t = 2)]
    pub http_connections: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn urls_and_server_pids_may_be_repeated_or_listed() {
        let common = |args: &[&str]| {
            let mut argv = vec!["parley-bench", "fanout"];
            argv.extend(args);
            Cli::try_parse_from(argv).unwrap().scenario.common().clone()
        };
        let one = common(&[]);
        assert_eq!(one.url, ["http://127.0.0.1:7070"]);
        assert_eq!(one.server_pid, None);
        let three = common(&[
            "--url",
            "http://a:7070,http://b:7070",
            "--url",
            "http://c:7070",
            "--server-pid",
            "11,12,13",
        ]);
        assert_eq!(
            three.url,
            ["http://a:7070", "http://b:7070", "http://c:7070"]
        );
        assert_eq!(three.first_url(), "http://a:7070");
        assert_eq!(three.server_pid.unwrap().as_slice(), [11, 12, 13]);
        let refused = |args: &[&str]| {
            let mut argv = vec!["parley-bench", "fanout"];
            argv.extend(args);
            Cli::try_parse_from(argv).is_err()
        };
        assert!(refused(&["--server-pid", "12,x"]));
        assert!(refused(&["--server-pid", ""]));
    }

    #[test]
    fn reconnect_storm_flags_parse() {
        let cli = Cli::try_parse_from([
            "parley-bench",
            "reconnect-storm",
            "--connections",
            "2000",
            "--channels",
            "200",
            "--storms",
            "3",
            "--reconnect-spread",
            "500ms..2s",
        ])
        .unwrap();
        let Scenario::ReconnectStorm(args) = cli.scenario else {
            panic!("not reconnect-storm");
        };
        assert_eq!(args.storms, 3);
        assert_eq!(args.reconnect_spread.to_string(), "500ms..2s");
        assert_eq!(args.interval, Duration::from_secs(2));
    }

    #[test]
    fn fanout_flags_parse() {
        let cli = Cli::try_parse_from([
            "parley-bench",
            "fanout",
            "--connections",
            "10000",
            "--channels",
            "1000",
            "--subscribers",
            "10",
            "--duration",
            "15s",
            "--batch",
            "100",
            "--source-ips",
            "127.0.0.2-127.0.0.9",
            "--api-key",
            "k",
        ])
        .unwrap();
        let Scenario::Fanout(args) = cli.scenario else {
            panic!("not fanout");
        };
        assert_eq!(args.common.connections, 10_000);
        assert_eq!(args.subscribers, Some(10));
        assert_eq!(args.common.duration, Duration::from_secs(15));
        assert_eq!(args.load.publish_via, PublishVia::Http);
        assert_eq!(args.common.source_ips.unwrap().addrs().len(), 8);
        assert_eq!(args.common.credentials.api_key.as_deref(), Some("k"));
    }
}
