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
