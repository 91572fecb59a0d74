# keel: one image with both binaries, `api` (the default command) and `worker`.
#
#   docker build -t keel:dev .
#   docker run --rm -p 8000:8000 keel:dev                     # api on SQLite, http://127.0.0.1:8000
#   docker run --rm keel:dev worker run                       # the outbox worker
#   docker run --rm keel:dev api migrate up                   # a migration job
#
# No HEALTHCHECK: orchestrators probe /health (liveness) and /ready (readiness) themselves.
# The release build line below is the one `scripts/validate-deploy` (run by CI) checks against
# the repository's documented build: `cargo build --release --locked` builds the workspace's
# default members, `api` and `worker`.

ARG RUST_VERSION=1.95.0

# ---- build ---------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never

# The toolchain file first, so a component rustup adds for it is cached with the base image.
COPY rust-toolchain.toml ./
RUN cargo --version

# Dependencies: the manifests and the lock file with stub sources, built once and cached
# until a manifest or Cargo.lock changes. Explicit target paths ([[bin]], [[test]], [lib])
# get a stub too, because cargo checks they exist when it reads a manifest.
COPY Cargo.toml Cargo.lock ./
COPY crates/domain/Cargo.toml crates/domain/
COPY crates/ports/Cargo.toml crates/ports/
COPY crates/application/Cargo.toml crates/application/
COPY crates/adapters/http/Cargo.toml crates/adapters/http/
COPY crates/adapters/persistence/Cargo.toml crates/adapters/persistence/
COPY crates/adapters/auth/Cargo.toml crates/adapters/auth/
COPY crates/adapters/redis/Cargo.toml crates/adapters/redis/
COPY crates/adapters/telemetry/Cargo.toml crates/adapters/telemetry/
COPY crates/adapters/webhook/Cargo.toml crates/adapters/webhook/
COPY crates/adapters/oauth/Cargo.toml crates/adapters/oauth/
COPY crates/adapters/mail/Cargo.toml crates/adapters/mail/
COPY crates/bootstrap/Cargo.toml crates/bootstrap/
COPY crates/api/Cargo.toml crates/api/
COPY crates/testkit/Cargo.toml crates/testkit/
COPY crates/worker/Cargo.toml crates/worker/
COPY crates/bench/Cargo.toml crates/bench/
COPY migrations/Cargo.toml migrations/
RUN set -eu; \
    for manifest in crates/*/Cargo.toml crates/adapters/*/Cargo.toml migrations/Cargo.toml; do \
      dir=$(dirname "$manifest"); \
      mkdir -p "$dir/src"; \
      if grep -q '^\[\[bin\]\]' "$manifest"; then : ; else touch "$dir/src/lib.rs"; fi; \
      for path in $(sed -n 's/^path = "\(.*\)"$/\1/p' "$manifest"); do \
        mkdir -p "$dir/$(dirname "$path")"; \
        [ -e "$dir/$path" ] || echo 'fn main() {}' > "$dir/$path"; \
      done; \
    done; \
    cargo build --release --locked; \
    rm -rf crates migrations

# The sources. `touch` makes cargo rebuild keel's own crates over the stubs (COPY keeps the
# files' old modification times).
COPY crates crates
COPY migrations migrations
COPY frontend frontend
RUN set -eu; \
    find crates migrations -name '*.rs' -exec touch {} +; \
    cargo build --release --locked; \
    install -D -m 0755 target/release/api target/release/worker -t /out/

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates: HTTPS to webhooks, OpenID providers, OTLP collectors and Sentry.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 keel \
 && useradd --system --uid 10001 --gid keel --home-dir /app --shell /usr/sbin/nologin keel \
 && install -d -o keel -g keel -m 0750 /app
COPY --from=build /out/api /out/worker /usr/local/bin/
WORKDIR /app
USER 10001:10001
# Listen on every interface inside the container; JSON logs on stdout.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    WORKER_HOST=0.0.0.0 \
    WORKER_PORT=9000 \
    LOG_FORMAT=json
EXPOSE 8000 9000
CMD ["api"]
