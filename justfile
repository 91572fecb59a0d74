# Everyday recipes. Every recipe is a plain command: the README works without `just` too.

set dotenv-load := false

# Run the API on the default SQLite file.
dev:
    cargo run -p keel-api

# The whole test suite (PostgreSQL too when TEST_DATABASE_URL is set).
test *args:
    scripts/test {{args}}

# Tests against the local PostgreSQL and Redis, as CI runs them.
test-all *args:
    TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres TEST_REDIS_URL=redis://127.0.0.1:6379 scripts/test {{args}}

# The GUI's tests in headless Chromium against the api binary (installs chromium, npm packages).
browser-tests *args:
    scripts/browser-tests {{args}}

# Only the domain's property tests.
test-properties:
    cargo nextest run -p keel-domain --test properties

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The dependency rules of the hexagon.
arch:
    scripts/check-layers

# The outbox worker on the default SQLite file (run the api once first: it migrates).
worker *args:
    cargo run -p keel-worker -- {{args}}

# Outbox benchmark: drain throughput (1 and 2 workers) and NOTIFY latency, release build.
bench-outbox:
    bench/outbox.sh

# Rate-limit benchmark: the post list with the in-process and the Redis limiter, release build.
bench-rate-limit:
    bench/rate-limit.sh

# Migrations: just migrate up|down|status|fresh
migrate action="up":
    cargo run -p keel-api -- migrate {{action}}

# Print the OpenAPI document.
openapi:
    cargo run -p keel-api -- openapi

# Refresh the committed OpenAPI snapshot after reviewing an API change.
openapi-snapshot:
    UPDATE_SNAPSHOTS=1 cargo nextest run -p keel-api contract

# Everything CI does.
ci:
    .ci/run
