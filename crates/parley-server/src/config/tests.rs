//! Loading the configuration: defaults, files, environment and errors.

use super::*;

fn load_toml(
    text: &str,
    env: &[(&str, &str)],
) -> Result<(Config, Vec<credentials::Generated>), ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.toml");
    std::fs::write(&path, text).unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().join("data")),
        ..Overrides::default()
    };
    let env: std::collections::HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(Some(&path), |name| env.get(name).cloned(), &overrides)
}

#[test]
fn file_then_env_then_flags() {
    let text = r#"
        listen = "127.0.0.1:8000"
        ping_interval = "5s"
        database_connect_timeout = "2s"
        [[apps]]
        id = "a"
        secret = "0123456789abcdef0123"
        api_keys = ["k1"]
        [apps.namespaces.chat]
        allow_publish = true
        [namespaces.chat]
        anonymous = true
        [namespaces.live]
        anonymous = true
    "#;
    let (config, generated) = load_toml(text, &[("PARLEY_LISTEN", "127.0.0.1:9000")]).unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.ping_interval, Duration::from_secs(5));
    assert_eq!(config.database_connect_timeout, Duration::from_secs(2));
    let app = &config.apps[0];
    // The app's own table wins over the top-level one of the same name.
    assert!(app.namespaces["chat"].allow_publish && !app.namespaces["chat"].anonymous);
    assert!(app.namespaces["live"].anonymous);
    // Only the missing key was generated.
    assert_eq!(app.api_keys, ["k1"]);
    assert!(!app.key.is_empty());
    assert_eq!(generated.len(), 1);
    assert!(generated[0].api_key.is_none());
}

#[test]
fn bad_settings_are_refused_with_their_name() {
    let cases = [
        ("connect_timeout = \"0s\"", "connect_timeout"),
        (
            "database_connect_timeout = \"0s\"",
            "database_connect_timeout must be above zero",
        ),
        ("ping_interval = \"soon\"", "invalid duration"),
        ("max_frame_bytes = 10", "max_frame_bytes"),
        (
            "[namespaces.chat]\nmax_message_bytes = 0",
            "max_message_bytes",
        ),
        ("[namespaces.chat]\nallow_publsh = true", "unknown field"),
        ("[namespaces.\"a:b\"]", "namespace name"),
    ];
    for (text, expected) in cases {
        let error = load_toml(text, &[]).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
    let error = load_toml("", &[("PARLEY_API_KEY", "")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("API keys"), "{error}");
    let error = load_toml("", &[("PARLEY_APP_SECRET", "short")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("16 characters"), "{error}");
}

#[test]
fn cluster_section_env_and_its_errors() {
    let (config, _) = load_toml("", &[]).unwrap();
    assert_eq!(config.cluster, ClusterConfig::default());
    assert_eq!(config.cluster.broker, BrokerKind::Memory);
    let text = r#"
        [cluster]
        broker = "redis"
        redis_url = "redis://10.0.0.5:6379/2"
        prefix = "chat-prod"
        node = "web-1"
        redis_timeout = "500ms"
        node_ttl = "6s"
    "#;
    let (config, _) = load_toml(text, &[("PARLEY_CLUSTER_PREFIX", "chat-staging")]).unwrap();
    assert_eq!(config.cluster.broker, BrokerKind::Redis);
    assert_eq!(config.cluster.redis_url, "redis://10.0.0.5:6379/2");
    assert_eq!(config.cluster.prefix, "chat-staging");
    assert_eq!(config.cluster.node_name(), "web-1");
    assert_eq!(config.cluster.redis_timeout, Duration::from_millis(500));
    assert_eq!(config.cluster.node_ttl, Duration::from_secs(6));
    let (config, _) = load_toml(
        "",
        &[
            ("PARLEY_CLUSTER_BROKER", "redis"),
            ("PARLEY_CLUSTER_REDIS_URL", "redis://cache:6379"),
            ("PARLEY_CLUSTER_NODE", "web-2"),
        ],
    )
    .unwrap();
    assert_eq!(config.cluster.broker, BrokerKind::Redis);
    assert_eq!(config.cluster.redis_url, "redis://cache:6379");
    assert!(config.cluster.node_name().starts_with("web-2"));
    assert!(ClusterConfig::default().node_name().starts_with("node-"));

    let error = |text: &str, env: &[(&str, &str)]| load_toml(text, env).unwrap_err().to_string();
    assert!(error("[cluster]\nbroker = \"nats\"", &[]).contains("unknown variant"));
    assert!(error("", &[("PARLEY_CLUSTER_BROKER", "etcd")]).contains("PARLEY_CLUSTER_BROKER"));
    assert!(error("[cluster]\nprefix = \"a b\"", &[]).contains("cluster.prefix"));
    assert!(
        error(
            "[cluster]\nbroker = \"redis\"\nredis_url = \"http://x\"",
            &[]
        )
        .contains("cluster.redis_url")
    );
    assert!(error("[cluster]\nredis_timeout = \"0s\"", &[]).contains("redis_timeout"));
    assert!(error("[cluster]\nnode_ttl = \"500ms\"", &[]).contains("node_ttl"));
    assert!(error("[cluster]\nbrokers = \"redis\"", &[]).contains("unknown field"));
}

#[test]
fn redis_urls_may_use_tls_or_sentinel_and_tls_files_need_tls() {
    let redis = |rest: &str| format!("[cluster]\nbroker = \"redis\"\n{rest}");
    for url in [
        "rediss://:secret@cache.example:6380/1",
        "redis+sentinel://10.0.0.1:26379,10.0.0.2/mymaster",
        "rediss+sentinel://:secret@sentinel.example/mymaster/2",
    ] {
        let (config, _) = load_toml(&redis(&format!("redis_url = \"{url}\"")), &[]).unwrap();
        assert_eq!(config.cluster.redis_url, url);
    }
    let (config, _) = load_toml(
        &redis(
            "redis_url = \"rediss://cache:6380\"\nredis_tls_ca = \"/etc/parley/ca.pem\"\n\
             redis_tls_cert = \"/etc/parley/client.pem\"\nredis_tls_key = \"/etc/parley/client.key\"",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        config.cluster.redis_tls_ca.as_deref(),
        Some(std::path::Path::new("/etc/parley/ca.pem"))
    );

    let error = |text: &str| load_toml(text, &[]).unwrap_err().to_string();
    let problem = error(&redis("redis_url = \"redis+sentinel://:secret@h\""));
    assert!(problem.contains("names no master"), "{problem}");
    assert!(!problem.contains("secret"), "{problem}");
    let problem = error(&redis("redis_tls_ca = \"ca.pem\""));
    assert!(
        problem.contains("cluster.redis_tls_ca needs a TLS redis_url"),
        "{problem}"
    );
    let problem = error(&redis(
        "redis_url = \"rediss://cache\"\nredis_tls_cert = \"client.pem\"",
    ));
    assert!(problem.contains("go together"), "{problem}");
}

#[test]
fn web_pages_default_to_admin_on_and_demo_off() {
    let (config, _) = load_toml("", &[]).unwrap();
    assert!(config.web.admin);
    assert!(!config.web.demo);
    assert!(!config.apps[0].namespaces.contains_key(DEMO_NAMESPACE));
}

#[test]
fn the_demo_adds_its_namespace_unless_the_configuration_has_one() {
    let (config, _) = load_toml("", &[("PARLEY_WEB_DEMO", "true")]).unwrap();
    assert!(config.web.demo);
    assert_eq!(config.apps[0].namespaces[DEMO_NAMESPACE], demo_namespace());

    let text = r#"
        [web]
        demo = true
        admin = false
        demo_tokens_per_ip = "3/min"
        [namespaces.demo]
        persist = true
        presence = true
        max_message_length = 10
    "#;
    let (config, _) = load_toml(text, &[]).unwrap();
    assert!(!config.web.admin);
    assert_eq!(config.web.demo_tokens_per_ip.count, 3);
    assert_eq!(
        config.apps[0].namespaces[DEMO_NAMESPACE].max_message_length,
        10
    );
}

#[test]
fn the_demo_refuses_a_namespace_it_cannot_chat_in() {
    let text = r#"
        [web]
        demo = true
        [namespaces.demo]
        presence = true
    "#;
    let error = load_toml(text, &[]).unwrap_err().to_string();
    assert!(error.contains("persist = true"), "{error}");
    let error = load_toml("", &[("PARLEY_WEB_ADMIN", "yes")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("PARLEY_WEB_ADMIN"), "{error}");
}

#[test]
fn the_deploy_examples_configuration_loads_with_the_compose_environment() {
    // deploy/parley.toml with the variables deploy/docker-compose.yml sets.
    let (config, _) = load_toml(
        include_str!("../../../../deploy/parley.toml"),
        &[
            ("PARLEY_LISTEN", "0.0.0.0:7070"),
            (
                "PARLEY_DATABASE_URL",
                "postgres://parley:parley@postgres:5432/parley",
            ),
            ("PARLEY_CLUSTER_BROKER", "redis"),
            ("PARLEY_CLUSTER_REDIS_URL", "redis://redis:6379"),
            ("PARLEY_APP_SECRET", "0123456789abcdef0123456789abcdef"),
            ("PARLEY_API_KEY", "compose-api-key"),
        ],
    )
    .unwrap();
    let chat = &config.apps[0].namespaces["chat"];
    assert!(chat.persist && chat.presence);
    assert_eq!(config.apps[0].api_keys, ["compose-api-key"]);
}

#[test]
fn every_setting_can_come_from_the_environment_without_a_file() {
    let vars: Vec<(String, String)> = [
        ("PARLEY__NAMESPACES__CHAT__PERSIST", "true"),
        ("PARLEY__NAMESPACES__CHAT__PRESENCE", "true"),
        ("PARLEY__NAMESPACES__CHAT__RATE", "5/min"),
        ("PARLEY__PING_INTERVAL", "5s"),
        ("PARLEY__APPS__0__ID", "main"),
        (
            "PARLEY__APPS__0__ALLOWED_ORIGINS",
            r#"["https://a.example"]"#,
        ),
        // The named variables still apply, after the paths.
        ("PARLEY__LISTEN", "127.0.0.1:1000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let named = [("PARLEY_LISTEN", "127.0.0.1:2000"), ("PARLEY_API_KEY", "k")];
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().join("data")),
        ..Overrides::default()
    };
    let env = |name: &str| {
        named
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    let (config, _) = Config::load_with_paths(None, env, vars.clone(), &overrides).unwrap();
    assert_eq!(config.listen.port(), 2000);
    assert_eq!(config.ping_interval, Duration::from_secs(5));
    let app = &config.apps[0];
    assert_eq!(app.id, "main");
    assert_eq!(app.allowed_origins, ["https://a.example"]);
    assert_eq!(app.api_keys, ["k"]);
    assert!(app.namespaces["chat"].persist && app.namespaces["chat"].presence);

    // A misspelt key is refused as in a file, naming where it came from.
    let mut misspelt = vars;
    misspelt.push(("PARLEY__NAMESPACES__CHAT__PERSITS".into(), "true".into()));
    let error = Config::load_with_paths(None, env, misspelt, &overrides)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("PARLEY__ variables") && error.contains("persits"),
        "{error}"
    );
}

#[test]
fn a_pusher_option_written_on_the_app_says_where_it_goes() {
    let text = "[[apps]]\nid = \"a\"\nenable_client_messages = true\n";
    let error = load_toml(text, &[]).unwrap_err().to_string();
    assert!(
        error.contains("unknown field `enable_client_messages`"),
        "{error}"
    );
    assert!(error.contains("[apps.pusher]"), "{error}");
}
