//! The servers some tests need: PostgreSQL (`TEST_DATABASE_URL`) and Redis (`TEST_REDIS_URL`).
//!
//! A test that needs one of them lives in a module named `postgres` or `redis` (a segment of
//! its path, e.g. `votes::a_vote_moves_the_counter::postgres` or
//! `stream::redis::events_are_appended`). That is how the test runner knows it: `scripts/test`
//! leaves such tests out when their service is not configured, and the summary counts them as
//! skipped. A test that runs anyway without its variable fails with a message naming the
//! variable: it never passes without having done its work.

/// The environment variable naming the PostgreSQL server to test against.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";
/// The environment variable naming the Redis server to test against.
pub const TEST_REDIS_URL: &str = "TEST_REDIS_URL";

/// The value of `variable` when it is set and not blank.
fn configured(variable: &str) -> Option<String> {
    std::env::var(variable)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Why a test that needs `service` cannot run, and how to run it.
fn not_configured(service: &str, variable: &str, module: &str) -> String {
    format!(
        "this test needs {service} and {variable} is not set: set it (scripts/test sets it \
         when {service} answers on its default local port, and otherwise leaves the `{module}` \
         tests out, reported as skipped)"
    )
}

/// The PostgreSQL server URL of [`TEST_DATABASE_URL`].
///
/// # Panics
/// When the variable is unset or blank.
#[must_use]
pub fn postgres_url() -> String {
    configured(TEST_DATABASE_URL).unwrap_or_else(|| {
        panic!(
            "{}",
            not_configured("PostgreSQL", TEST_DATABASE_URL, "postgres")
        )
    })
}

/// The Redis server URL of [`TEST_REDIS_URL`].
///
/// # Panics
/// When the variable is unset or blank.
#[must_use]
pub fn redis_url() -> String {
    configured(TEST_REDIS_URL)
        .unwrap_or_else(|| panic!("{}", not_configured("Redis", TEST_REDIS_URL, "redis")))
}
