use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_env(&Env::from_pairs(pairs.iter().copied()))
}

#[test]
fn defaults_match_the_spec() {
    let c = config(&[]).expect("defaults are valid");
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8000));
    assert_eq!(c.database.url.expose_secret(), "sqlite://keel.db?mode=rwc");
    assert!(c.database.migrate_on_start);
    assert_eq!(c.environment, Environment::Development);
    assert!(c.auth.secret_key_is_default);
    assert_eq!(
        (c.auth.issuer.as_str(), c.auth.audience.as_str()),
        ("keel", "keel-api")
    );
    assert_eq!(
        (
            c.auth.access_token_expire,
            c.auth.refresh_token_expire,
            c.auth.refresh_token_reuse_grace,
            c.auth.session_max_age,
        ),
        (
            Duration::from_secs(3_600),
            Duration::from_secs(30 * 86_400),
            Duration::from_secs(10),
            Duration::from_secs(30 * 86_400),
        )
    );
    assert_eq!(
        c.api_versions,
        ApiVersions {
            latest: "v1".into(),
            supported: vec!["v1".into()]
        }
    );
    assert_eq!(
        c.rate_limit.login,
        RateLimitPolicy {
            limit: 10,
            window: Duration::from_secs(60)
        }
    );
    assert_eq!(c.rate_limit.register.limit, 5);
    assert_eq!(c.rate_limit.read.limit, 120);
    assert_eq!(c.rate_limit.write.limit, 60);
    assert!(c.rate_limit.fail_open);
    assert_eq!(c.http.max_body_bytes, 262_144);
    assert!(c.http.trusted_hosts.contains(&"*".to_owned()));
    assert_eq!(c.outbox.sinks, vec![OutboxSink::Log]);
    assert_eq!(
        (c.outbox.worker_host.as_str(), c.outbox.worker_port),
        ("127.0.0.1", 9000)
    );
    assert!(c.redis_url.is_none());
}

#[test]
fn original_database_variables_build_a_postgres_url() {
    let c = config(&[
        ("DATABASE_HOSTNAME", "db.internal"),
        ("DATABASE_USERNAME", "app"),
        ("DATABASE_PASSWORD", "p@ss word"),
        ("DATABASE_NAME", "keel"),
    ])
    .expect("valid");
    assert_eq!(
        c.database.url.expose_secret(),
        "postgres://app:p%40ss%20word@db.internal:5432/keel"
    );
    assert!(c.is_postgres());
    let c = config(&[
        ("DATABASE_URL", "sqlite::memory:"),
        ("DATABASE_HOSTNAME", "ignored"),
    ])
    .expect("valid");
    assert_eq!(c.database.url.expose_secret(), "sqlite::memory:");
}

#[test]
fn bad_values_name_the_variable_and_the_accepted_values() {
    let cases = [
        ("PORT", "eighty", "port"),
        ("ALGORITHM", "RS256", "HS256"),
        ("ENVIRONMENT", "staging", "production"),
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "0",
            "minutes from 1 to 10080",
        ),
        ("SESSION_MAX_AGE_DAYS", "0", "1 to 3650"),
        ("SESSION_MAX_AGE_DAYS", "3651", "1 to 3650"),
        ("SESSION_MAX_AGE_DAYS", "-1", "1 to 3650"),
        ("RATE_LIMIT_LOGIN_LIMIT", "-1", "from 1 to 1000000000"),
        ("RATE_LIMIT_READ_WINDOW_SECONDS", "x", "from 1 to 86400"),
        ("DATABASE_MIGRATE_ON_START", "maybe", "true or false"),
        ("OUTBOX_SINKS", "log,kafka", "webhook"),
        ("DATABASE_URL", "mysql://x", "postgres"),
        ("LOG_FORMAT", "xml", "json"),
        ("OAUTH_FRONTEND_CALLBACK_URL", "/cb#frag", "fragment"),
        ("MAX_BODY_BYTES", "lots", "from 1 to 104857600"),
        ("REQUEST_BODY_TIMEOUT_SECONDS", "0", "from 1 to 3600"),
        ("REQUEST_BODY_TIMEOUT_SECONDS", "3601", "from 1 to 3600"),
        ("REQUEST_BODY_TIMEOUT_SECONDS", "soon", "from 1 to 3600"),
    ];
    for (variable, value, expected) in cases {
        let err = config(&[(variable, value)]).expect_err(variable);
        assert_eq!(err.variable, variable);
        assert!(
            err.expected.contains(expected),
            "{variable}: {}",
            err.expected
        );
        assert!(err.to_string().contains(variable));
    }
}

#[test]
fn versions_accept_json_or_comma_lists_and_latest_must_be_supported() {
    let c = config(&[
        ("API_SUPPORTED_VERSIONS", r#"["v1","v2"]"#),
        ("API_LATEST_VERSION", "v2"),
    ])
    .expect("valid");
    assert_eq!(c.api_versions.supported, vec!["v1", "v2"]);
    let c = config(&[("API_SUPPORTED_VERSIONS", "v1, v2")]).expect("valid");
    assert_eq!(c.api_versions.supported, vec!["v1", "v2"]);
    let err = config(&[("API_LATEST_VERSION", "v3")]).expect_err("unsupported latest");
    assert_eq!(err.variable, "API_LATEST_VERSION");
    let err = config(&[("API_SUPPORTED_VERSIONS", "one")]).expect_err("bad name");
    assert_eq!(err.variable, "API_SUPPORTED_VERSIONS");
}

#[test]
fn production_refuses_weak_settings() {
    let strong = "k".repeat(40);
    let base = [
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", strong.as_str()),
        ("TRUSTED_HOSTS", "api.example.com"),
    ];
    let c = config(&base).expect("strong production config");
    assert!(!c.rate_limit.fail_open);
    assert_eq!(c.http.trusted_hosts, vec!["api.example.com"]);

    let err = config(&[
        ("ENVIRONMENT", "production"),
        ("TRUSTED_HOSTS", "api.example.com"),
    ])
    .expect_err("default key");
    assert_eq!(err.variable, "SECRET_KEY");
    let err = config(&[base[0], ("SECRET_KEY", "short"), base[2]]).expect_err("short key");
    assert_eq!(err.variable, "SECRET_KEY");
    assert!(!err.to_string().contains("short"), "secrets are not echoed");
    let err = config(&[base[0], base[1], ("TRUSTED_HOSTS", "*")]).expect_err("wildcard host");
    assert_eq!(err.variable, "TRUSTED_HOSTS");
    let err = config(&[
        base[0],
        base[1],
        ("TRUSTED_HOSTS", "api.example.com"),
        ("RATE_LIMIT_FAIL_OPEN", "true"),
    ])
    .expect_err("fail open");
    assert_eq!(err.variable, "RATE_LIMIT_FAIL_OPEN");
    let forced = config(&[
        base[0],
        base[1],
        base[2],
        ("RATE_LIMIT_FAIL_OPEN", "true"),
        ("RATE_LIMIT_FAIL_OPEN_FORCE", "true"),
    ]);
    assert!(forced.expect("forced").rate_limit.fail_open);
}

#[test]
fn blank_values_count_as_unset() {
    let c = config(&[("PORT", ""), ("SECRET_KEY", "  ")]).expect("valid");
    assert_eq!(c.port, 8000);
    assert!(c.auth.secret_key_is_default);
}

#[test]
fn the_shipped_env_example_is_valid_and_states_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let pairs = dotenvy::from_path_iter(path)
        .expect(".env.example exists")
        .collect::<Result<Vec<_>, _>>()
        .expect(".env.example parses");
    assert!(pairs.len() >= 50, "every variable is listed");
    let from_example = config(
        &pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    )
    .expect("valid");
    let defaults = config(&[]).expect("valid");
    assert_eq!(format!("{from_example:?}"), format!("{defaults:?}"));
}

#[test]
fn edge_and_rate_limit_settings_are_validated_at_start() {
    let c = config(&[]).expect("defaults");
    assert_eq!(c.http.trusted_proxies, vec!["127.0.0.1/32", "::1/128"]);
    assert!(!c.http.trust_proxy_headers);
    assert_eq!(c.http.cors_origins.len(), 4);
    assert!(c.http.security_headers_enabled && c.http.csp_enabled);
    assert!(!c.http.hsts_enabled && !c.http.https_redirect);
    assert_eq!(c.http.hsts_max_age, Duration::from_secs(31_536_000));
    assert_eq!(c.http.request_body_timeout, Duration::from_secs(30));
    assert!(c.rate_limit.enabled);
    assert_eq!(c.rate_limit.key_prefix, "");
    assert!(!c.redis_health_required);
    for (variable, value, expected) in [
        ("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/33", "CIDR"),
        ("TRUSTED_PROXIES", "proxy.internal", "CIDR"),
        ("CORS_ORIGINS", "localhost:3000", "origins"),
        ("CORS_ORIGINS", "https://app.example.com/path", "origins"),
        ("REDIS_URL", "http://127.0.0.1:6379", "redis://"),
        ("REDIS_HEALTH_REQUIRED", "sometimes", "true or false"),
        ("RATE_LIMIT_ENABLED", "maybe", "true or false"),
        ("RATE_LIMIT_FAIL_OPEN", "2", "true or false"),
        ("RATE_LIMIT_LOGIN_LIMIT", "0", "from 1 to 1000000000"),
        ("RATE_LIMIT_WRITE_WINDOW_SECONDS", "0", "from 1 to 86400"),
        ("SECURITY_HSTS_MAX_AGE_SECONDS", "-1", "from 1 to 63072000"),
        ("TRUST_PROXY_HEADERS", "perhaps", "true or false"),
    ] {
        let err = config(&[(variable, value)]).expect_err(variable);
        assert_eq!(err.variable, variable, "{value}");
        assert!(
            err.expected.contains(expected),
            "{variable}: {}",
            err.expected
        );
    }
    let err = config(&[("REDIS_URL", "http://user:hunter2@redis")]).expect_err("scheme");
    assert!(
        !err.to_string().contains("hunter2"),
        "URLs may hold passwords"
    );
    let c = config(&[
        ("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7, fd00::/8"),
        ("CORS_ORIGINS", r#"["https://app.example.com", "*"]"#),
        ("REDIS_URL", "redis://127.0.0.1:6379/2"),
        ("RATE_LIMIT_KEY_PREFIX", "staging:"),
    ])
    .expect("valid");
    assert_eq!(c.http.trusted_proxies.len(), 3);
    assert_eq!(c.rate_limit.key_prefix, "staging:");
}

#[test]
fn production_refusals_name_the_variable_and_the_way_out() {
    let strong = "k".repeat(40);
    for (pairs, variable, hint) in [
        (
            vec![
                ("SECRET_KEY", "changeme"),
                ("TRUSTED_HOSTS", "api.example.com"),
            ],
            "SECRET_KEY",
            "32 characters",
        ),
        (
            vec![
                ("SECRET_KEY", DEV_SECRET_KEY),
                ("TRUSTED_HOSTS", "api.example.com"),
            ],
            "SECRET_KEY",
            "known default",
        ),
        (
            vec![
                ("SECRET_KEY", strong.as_str()),
                ("TRUSTED_HOSTS", "api.example.com,*"),
            ],
            "TRUSTED_HOSTS",
            "explicit host names",
        ),
        (
            // No TRUSTED_HOSTS in production: the default has no `*`, so it starts.
            vec![
                ("SECRET_KEY", strong.as_str()),
                ("RATE_LIMIT_FAIL_OPEN", "yes"),
            ],
            "RATE_LIMIT_FAIL_OPEN",
            "RATE_LIMIT_FAIL_OPEN_FORCE",
        ),
    ] {
        let mut all = vec![("ENVIRONMENT", "production")];
        all.extend(pairs);
        let err = config(&all).expect_err(variable);
        assert_eq!(err.variable, variable);
        assert!(err.to_string().contains(hint), "{err}");
    }
    let c = config(&[
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", strong.as_str()),
    ])
    .expect("the production defaults are strong");
    assert_eq!(c.http.trusted_hosts, vec!["localhost", "127.0.0.1"]);
    assert!(!c.rate_limit.fail_open);
}

#[test]
fn oauth_providers_are_enabled_by_their_credentials_in_listing_order() {
    use keel_domain::oauth::Provider;
    let c = config(&[]).expect("valid");
    assert!(c.oauth.providers.is_empty());
    assert_eq!(c.oauth.http_timeout, Duration::from_secs(10));
    let c = config(&[
        ("OAUTH_OIDC_ISSUER_URL", "http://127.0.0.1:9999"),
        ("OAUTH_OIDC_CLIENT_ID", "oidc-id"),
        ("OAUTH_OIDC_CLIENT_SECRET", "oidc-secret"),
        ("OAUTH_OIDC_DISPLAY_NAME", "Company SSO"),
        ("OAUTH_GITHUB_CLIENT_ID", "gh-id"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "gh-secret"),
        ("OAUTH_APPLE_CLIENT_ID", "com.example"),
        ("OAUTH_APPLE_CLIENT_SECRET", "-----BEGIN PRIVATE KEY-----"),
        ("OAUTH_APPLE_TEAM_ID", "TEAM"),
        ("OAUTH_APPLE_KEY_ID", "KEY"),
        ("OAUTH_PUBLIC_BASE_URL", "https://api.example.com/"),
        ("OAUTH_HTTP_TIMEOUT_SECONDS", "3"),
    ])
    .expect("valid");
    let names: Vec<Provider> = c.oauth.providers.iter().map(|p| p.provider).collect();
    assert_eq!(names, [Provider::Apple, Provider::Github, Provider::Oidc]);
    let oidc = &c.oauth.providers[2];
    assert_eq!(oidc.issuer_url.as_deref(), Some("http://127.0.0.1:9999"));
    assert_eq!(oidc.display_name.as_deref(), Some("Company SSO"));
    assert_eq!(oidc.client_secret.expose_secret(), "oidc-secret");
    assert_eq!(
        c.oauth.providers[0].apple_team_and_key,
        Some(("TEAM".to_owned(), "KEY".to_owned()))
    );
    assert_eq!(c.oauth.http_timeout, Duration::from_secs(3));
    assert!(
        !format!("{c:?}").contains("gh-secret"),
        "secrets never print"
    );
}

#[test]
fn incomplete_or_unsafe_oauth_settings_are_refused() {
    let production = [
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", "a-production-secret-key-of-enough-length"),
        ("TRUSTED_HOSTS", "api.example.com"),
        ("RATE_LIMIT_FAIL_OPEN", "false"),
    ];
    let oidc = |issuer: &'static str| {
        [
            ("OAUTH_OIDC_ISSUER_URL", issuer),
            ("OAUTH_OIDC_CLIENT_ID", "id"),
            ("OAUTH_OIDC_CLIENT_SECRET", "secret"),
        ]
    };
    for (pairs, variable) in [
        (
            vec![("OAUTH_GOOGLE_CLIENT_ID", "id")],
            "OAUTH_GOOGLE_CLIENT_SECRET",
        ),
        (
            vec![("OAUTH_GITHUB_CLIENT_SECRET", "s")],
            "OAUTH_GITHUB_CLIENT_ID",
        ),
        (
            vec![
                ("OAUTH_APPLE_CLIENT_ID", "id"),
                ("OAUTH_APPLE_CLIENT_SECRET", "pem"),
            ],
            "OAUTH_APPLE_TEAM_ID",
        ),
        (
            vec![
                ("OAUTH_APPLE_CLIENT_ID", "id"),
                ("OAUTH_APPLE_CLIENT_SECRET", "pem"),
                ("OAUTH_APPLE_TEAM_ID", "T"),
            ],
            "OAUTH_APPLE_KEY_ID",
        ),
        (
            vec![
                ("OAUTH_OIDC_CLIENT_ID", "id"),
                ("OAUTH_OIDC_CLIENT_SECRET", "s"),
            ],
            "OAUTH_OIDC_ISSUER_URL",
        ),
        (
            vec![("OAUTH_OIDC_ISSUER_URL", "https://idp.example")],
            "OAUTH_OIDC_CLIENT_ID",
        ),
        (oidc("ftp://idp.example").to_vec(), "OAUTH_OIDC_ISSUER_URL"),
        (
            vec![("OAUTH_PUBLIC_BASE_URL", "https://api.example.com/api")],
            "OAUTH_PUBLIC_BASE_URL",
        ),
        (
            vec![("OAUTH_PUBLIC_BASE_URL", "api.example.com")],
            "OAUTH_PUBLIC_BASE_URL",
        ),
        (
            vec![("OAUTH_HTTP_TIMEOUT_SECONDS", "0")],
            "OAUTH_HTTP_TIMEOUT_SECONDS",
        ),
    ] {
        let error = config(&pairs).expect_err("refused");
        assert_eq!(error.variable, variable, "{pairs:?}");
    }
    // Outside production local issuers are fine (tests run a local provider); not in production.
    assert!(config(&oidc("http://localhost:8080")).is_ok());
    for issuer in [
        "http://idp.example.com",
        "https://localhost",
        "https://127.0.0.1:8443",
        "https://10.1.2.3",
        "https://192.168.0.1/realms/x",
        "https://[::1]:8443",
        "https://[fd00::1]",
    ] {
        let mut pairs = production.to_vec();
        pairs.extend(oidc(issuer));
        let error = config(&pairs).expect_err(issuer);
        assert_eq!(error.variable, "OAUTH_OIDC_ISSUER_URL", "{issuer}");
    }
    let mut pairs = production.to_vec();
    pairs.extend(oidc("https://login.example.com/realms/keel"));
    assert!(config(&pairs).is_ok());
}

/// `.env.example` is the configuration reference: every variable the configuration looks up
/// is in it (set, or commented out when it has no default), and every variable in it is one the
/// configuration looks up. The scenarios below reach the conditional look-ups (OAuth providers,
/// the webhook sink, a database URL assembled from parts, production).
#[test]
fn env_example_lists_exactly_the_variables_the_configuration_reads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let example = std::fs::read_to_string(path).expect(".env.example exists");
    let listed: std::collections::BTreeSet<String> = example
        .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '='))
        .filter_map(|word| {
            word.strip_suffix('=')
                .or_else(|| word.split_once('=').map(|(k, _)| k))
        })
        .filter(|name| name.len() > 2 && name.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect();
    let strong = "k".repeat(40);
    let mut providers = Vec::new();
    for provider in ["GOOGLE", "MICROSOFT", "APPLE", "FACEBOOK", "GITHUB", "OIDC"] {
        for part in ["CLIENT_ID", "CLIENT_SECRET"] {
            providers.push((format!("OAUTH_{provider}_{part}"), "x".to_owned()));
        }
    }
    providers.push(("OAUTH_APPLE_TEAM_ID".into(), "TEAM".into()));
    providers.push(("OAUTH_APPLE_KEY_ID".into(), "KEY".into()));
    providers.push((
        "OAUTH_OIDC_ISSUER_URL".into(),
        "https://id.example.com".into(),
    ));
    let scenarios: Vec<Vec<(String, String)>> = vec![
        vec![],
        providers,
        vec![
            ("DATABASE_HOSTNAME".into(), "db.internal".into()),
            ("OUTBOX_SINKS".into(), "log,webhook".into()),
            (
                "OUTBOX_WEBHOOK_URL".into(),
                "https://hooks.example.com".into(),
            ),
            ("OUTBOX_WEBHOOK_SECRET".into(), "s".repeat(32)),
            ("REDIS_URL".into(), "redis://127.0.0.1:6379".into()),
        ],
        vec![
            ("ENVIRONMENT".into(), "production".into()),
            ("SECRET_KEY".into(), strong.clone()),
            ("TRUSTED_HOSTS".into(), "api.example.com".into()),
            ("RATE_LIMIT_FAIL_OPEN".into(), "true".into()),
        ],
    ];
    let mut read = std::collections::BTreeSet::new();
    for pairs in scenarios {
        let env = Env::from_pairs(pairs);
        // Some scenarios are refused (that is another test's business): what they looked up
        // before refusing still counts.
        let _ = Config::from_env(&env);
        read.extend(env.looked_up());
    }
    let undocumented: Vec<&String> = read.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "read by the configuration but missing from .env.example: {undocumented:?}"
    );
    let stale: Vec<&String> = listed.difference(&read).collect();
    assert!(
        stale.is_empty(),
        "in .env.example but read by no configuration: {stale:?}"
    );
}

/// Values out of their sane range stop the process at start, naming the variable and the
/// range, instead of being clamped later.
#[test]
fn values_out_of_their_sane_range_are_refused_at_start() {
    for (variable, value, range) in [
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "99999999999999",
            "from 1 to 10080",
        ),
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "10081",
            "minutes from 1 to 10080",
        ),
        ("REFRESH_TOKEN_EXPIRE_DAYS", "999999999", "from 1 to 3650"),
        ("REFRESH_TOKEN_EXPIRE_DAYS", "0", "from 1 to 3650"),
        (
            "REFRESH_TOKEN_REUSE_GRACE_SECONDS",
            "3601",
            "from 0 to 3600",
        ),
        ("SESSION_MAX_AGE_DAYS", "3651", "from 1 to 3650"),
        ("DATABASE_MAX_CONNECTIONS", "1001", "from 1 to 1000"),
        ("DATABASE_MAX_CONNECTIONS", "0", "from 1 to 1000"),
        ("OUTBOX_DISPATCH_BATCH_SIZE", "10001", "from 1 to 10000"),
        ("OUTBOX_RETRY_MAX_ATTEMPTS", "1001", "from 1 to 1000"),
        ("OUTBOX_RETRY_BACKOFF_SECONDS", "86401", "from 1 to 86400"),
        ("OUTBOX_DISPATCH_INTERVAL_SECONDS", "3601", "from 1 to 3600"),
        ("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", "301", "from 1 to 300"),
        ("OUTBOX_LEASE_SECONDS", "86401", "from 1 to 86400"),
        ("OAUTH_STATE_EXPIRE_SECONDS", "3601", "from 1 to 3600"),
        ("SMTP_URL", "http://mail.example.com", "smtp://"),
        ("EMAIL_VERIFY_EXPIRE_HOURS", "0", "from 1 to 720"),
        ("EMAIL_VERIFY_EXPIRE_HOURS", "721", "from 1 to 720"),
        ("PASSWORD_RESET_EXPIRE_MINUTES", "4", "from 5 to 1440"),
        ("PASSWORD_RESET_EXPIRE_MINUTES", "1441", "from 5 to 1440"),
        ("OAUTH_HTTP_TIMEOUT_SECONDS", "301", "from 1 to 300"),
        (
            "SECURITY_HSTS_MAX_AGE_SECONDS",
            "63072001",
            "from 1 to 63072000",
        ),
        ("MAX_BODY_BYTES", "104857601", "from 1 to 104857600"),
        ("RATE_LIMIT_READ_LIMIT", "0", "from 1 to 1000000000"),
        (
            "RATE_LIMIT_READ_LIMIT",
            "1000000001",
            "from 1 to 1000000000",
        ),
        (
            "RATE_LIMIT_LOGIN_WINDOW_SECONDS",
            "86401",
            "from 1 to 86400",
        ),
    ] {
        let err = config(&[(variable, value)]).expect_err(variable);
        assert_eq!(err.variable, variable);
        assert!(err.expected.contains(range), "{variable}: {}", err.expected);
        assert!(err.to_string().contains(variable), "{err}");
    }
    // The bounds themselves are accepted.
    let c = config(&[
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "10080"),
        ("REFRESH_TOKEN_EXPIRE_DAYS", "3650"),
        ("REFRESH_TOKEN_REUSE_GRACE_SECONDS", "0"),
        ("DATABASE_MAX_CONNECTIONS", "1000"),
    ])
    .expect("the bounds are valid");
    assert_eq!(c.auth.access_token_expire, Duration::from_secs(10_080 * 60));
    assert_eq!(
        c.auth.refresh_token_expire,
        Duration::from_secs(3_650 * 86_400)
    );
    assert_eq!(c.auth.refresh_token_reuse_grace, Duration::ZERO);
    assert_eq!(c.database.max_connections, Some(1_000));
}

#[test]
fn durations_are_read_in_the_unit_their_name_gives() {
    for (variable, value, unit, expected) in [
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "15", "minutes", 15 * 60),
        ("SESSION_MAX_AGE_DAYS", "2", "days", 2 * 86_400),
        ("OUTBOX_LEASE_SECONDS", "45", "seconds", 45),
    ] {
        let c = config(&[(variable, value)]).expect(variable);
        let read = match variable {
            "ACCESS_TOKEN_EXPIRE_MINUTES" => c.auth.access_token_expire,
            "SESSION_MAX_AGE_DAYS" => c.auth.session_max_age,
            _ => c.outbox.lease,
        };
        assert_eq!(read, Duration::from_secs(expected), "{variable}");
        let err = config(&[(variable, "1.5")]).expect_err(variable);
        assert!(
            err.expected
                .starts_with(&format!("a whole number of {unit} from")),
            "{variable}: {}",
            err.expected
        );
    }
    assert_eq!(span(Duration::from_secs(90)), time::Duration::seconds(90));
    assert_eq!(span(Duration::MAX), time::Duration::MAX);
}
