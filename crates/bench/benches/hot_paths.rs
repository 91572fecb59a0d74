//! Micro-benchmarks of the pure paths on keel's hot routes:
//! - `jwt`: issuing and verifying an access token (every authenticated request verifies one,
//!   every login and refresh issues a pair);
//! - `rate_limit`: the counter key of a principal (every limited request builds one);
//! - `problem`: rendering a problem+json body (every error response);
//! - `session`: the refresh-token rotation decision (every refresh).
//!
//! `cargo bench -p keel-bench` measures them; `cargo test -p keel-bench --benches` runs each
//! once (criterion's test mode), which is what CI does.

use actix_web::http::StatusCode;
use criterion::{Criterion, criterion_group, criterion_main};
use keel_auth::{JwtAlgorithm, JwtCodec};
use keel_domain::Timestamp;
use keel_domain::rate_limit::{Counter, Policy, Principal, Quota, counter_key};
use keel_domain::session::{FamilyId, SessionFamily, SessionPolicy, TokenId};
use keel_domain::user::UserId;
use keel_http::Problem;
use keel_http::problem::FieldError;
use keel_ports::TokenCodec;
use secrecy::SecretString;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

fn codec(algorithm: JwtAlgorithm) -> JwtCodec {
    JwtCodec::new(
        SecretString::from("bench-secret-key-0123456789abcdef0123"),
        algorithm,
        "keel",
        "keel-api",
        Duration::minutes(60),
    )
    .expect("valid codec settings")
}

fn jwt(c: &mut Criterion) {
    let mut group = c.benchmark_group("jwt");
    let (user, family) = (UserId::new(42), FamilyId::new(Uuid::new_v4()));
    for algorithm in [JwtAlgorithm::HS256, JwtAlgorithm::HS512] {
        let codec = codec(algorithm);
        let at = now();
        let token = codec.issue_access(user, family, at).expect("issuing works");
        group.bench_function(format!("issue_access/{algorithm}"), |b| {
            b.iter(|| codec.issue_access(black_box(user), family, at))
        });
        group.bench_function(format!("verify_access/{algorithm}"), |b| {
            b.iter(|| {
                codec
                    .verify_access(black_box(&token), at)
                    .expect("a valid token")
            })
        });
    }
    let codec = codec(JwtAlgorithm::HS256);
    group.bench_function("verify_access/HS256/forged", |b| {
        let forged = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl";
        b.iter(|| codec.verify_access(black_box(forged), now()).is_err())
    });
    group.finish();
}

fn rate_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit");
    let user = Principal::User(UserId::new(123_456));
    let v4 = Principal::address(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    let v6 = Principal::address(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)));
    group.bench_function("counter_key/user", |b| {
        b.iter(|| counter_key(Policy::ApiRead, black_box(29_000_000), black_box(&user)))
    });
    group.bench_function("counter_key/ipv4", |b| {
        b.iter(|| counter_key(Policy::ApiRead, black_box(29_000_000), black_box(&v4)))
    });
    group.bench_function("counter_key/ipv6", |b| {
        b.iter(|| counter_key(Policy::ApiRead, black_box(29_000_000), black_box(&v6)))
    });
    let quota = Quota::new(120, 60).expect("a valid quota");
    group.bench_function("counter/user", |b| {
        b.iter(|| Counter::new(Policy::ApiRead, quota, black_box(&user), 1_764_000_000))
    });
    group.bench_function("principal/account", |b| {
        b.iter(|| Principal::account(black_box("  Alice@Example.COM ")))
    });
    group.finish();
}

fn problem(c: &mut Criterion) {
    let mut group = c.benchmark_group("problem");
    let not_found = Problem::new(
        StatusCode::NOT_FOUND,
        keel_http::ErrorCode::PostNotFound,
        "post with id: 17 was not found",
    );
    group.bench_function("body/404", |b| {
        b.iter(|| {
            let body = not_found.body(black_box("/api/v1/posts/17"), Some("req-0123456789"));
            serde_json::to_vec(&body).expect("serialisable")
        })
    });
    let validation = Problem::validation(vec![
        FieldError::new(&["body", "title"], "length is lower than 1", "value_error"),
        FieldError::new(&["query", "limit"], "greater than 100", "value_error"),
    ]);
    group.bench_function("body/422", |b| {
        b.iter(|| {
            let body = validation.body(black_box("/api/v1/posts"), Some("req-0123456789"));
            serde_json::to_vec(&body).expect("serialisable")
        })
    });
    group.finish();
}

fn session(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    let policy = SessionPolicy {
        refresh_ttl: Duration::days(30),
        reuse_grace: Duration::seconds(10),
        max_age: Duration::days(30),
    };
    let start = now();
    let first = TokenId::new(Uuid::new_v4());
    let family = SessionFamily::start(
        FamilyId::new(Uuid::new_v4()),
        UserId::new(7),
        first,
        Some("Mozilla/5.0 (X11; Linux x86_64) bench"),
        start,
        &policy,
    );
    let later = start.plus(Duration::minutes(5));
    let next = TokenId::new(Uuid::new_v4());
    group.bench_function("refresh/rotate", |b| {
        b.iter_batched_ref(
            || family.clone(),
            |f| f.refresh(black_box(first), next, later, &policy),
            criterion::BatchSize::SmallInput,
        )
    });
    let mut rotated = family.clone();
    rotated
        .refresh(first, next, later, &policy)
        .expect("the current token rotates");
    group.bench_function("refresh/grace_replay", |b| {
        b.iter_batched_ref(
            || rotated.clone(),
            |f| f.refresh(black_box(first), TokenId::new(Uuid::nil()), later, &policy),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, jwt, rate_limit, problem, session);
criterion_main!(benches);
