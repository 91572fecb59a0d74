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

# `just --list` shows the comment line right above a recipe, so each recipe has a one-line
# summary there.

# The test-* recipes run one suite of the test taxonomy each (.config/nextest.toml,
# docs/testing.md); extra arguments go to nextest, e.g. `just test-security refresh`.

# Unit suite: in-crate tests of every crate but keel-application.
test-unit *args:
    cargo nextest run --workspace -P unit {{args}}

# Property suite: keel-domain's proptest invariants.
test-property *args:
    cargo nextest run --workspace -P property {{args}}

# Alias kept for muscle memory.
test-properties *args:
    cargo nextest run --workspace -P property {{args}}

# Application suite: the use cases against mocked ports.
test-application *args:
    cargo nextest run --workspace -P application {{args}}

# Integration suite: adapters and the HTTP app against real SQLite, PostgreSQL and Redis.
test-integration *args:
    cargo nextest run --workspace -P integration {{args}}

# End-to-end suite: the real api and worker binaries as processes.
test-e2e *args:
    cargo nextest run --workspace -P e2e {{args}}

# Security suite: auth abuse and hostile input.
test-security *args:
    cargo nextest run --workspace -P security {{args}}

# The OpenAPI contract: documented routes and problems, served == docs/openapi.json, and no
# unacknowledged breaking change against the previous commit (scripts/openapi-breaking).
# Contract suite: the OpenAPI document, its snapshot and its breaking changes.
test-contract *args:
    cargo nextest run --workspace -P contract {{args}}
    scripts/openapi-breaking

# The whole suite instrumented: per-crate line coverage and its gates (scripts/coverage).
coverage *args:
    scripts/test --coverage {{args}}

# 314 mutants, about 70 minutes on two cores; docs/testing.md records the last result.
# Mutation testing of keel-domain (`just mutants -f crates/domain/src/vote.rs`: one file).
mutants *args:
    scripts/mutants {{args}}

# schemathesis against the running api and its own /openapi.json (SQLite, authenticated).
api-fuzz *args:
    scripts/api-fuzz {{args}}

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

# The benchmark suite (docs/performance.md): seeds PostgreSQL, drives every HTTP scenario with
# wrk and the pgbench ceilings, writes bench/results/summary.{json,md}; release build.
# Settings are environment variables, e.g. `ROUNDS=5 DURATION=20s just bench`.
bench:
    bench/run.sh

# criterion micro-benchmarks of the hot pure paths (JWT, rate-limit key, problem, sessions).
bench-micro *args:
    cargo bench -p keel-bench {{args}}

# Outbox benchmark: drain throughput (1 and 2 workers) and NOTIFY latency, release build.
bench-outbox:
    bench/outbox.sh

# Rate-limit benchmark: the post list with the in-process and the Redis limiter, release build.
bench-rate-limit:
    bench/rate-limit.sh

# Migrations: just migrate up|down|status|fresh
migrate action="up":
    cargo run -p keel-api -- migrate {{action}}

# Generate a CRUD resource through every layer (docs/extending.md): just new-resource order,
# just new-resource person --plural people.
new-resource name *args:
    scripts/new-resource {{name}} {{args}}

# The generator's own check: generates into a scratch copy, builds, tests, curls (CI stage).
check-new-resource:
    scripts/check-new-resource

# Print the OpenAPI document.
openapi:
    cargo run -p keel-api -- openapi

# Refresh the committed OpenAPI snapshot after reviewing an API change.
openapi-snapshot:
    UPDATE_SNAPSHOTS=1 cargo nextest run -p keel-api contract

# Everything CI does.
ci:
    .ci/run
