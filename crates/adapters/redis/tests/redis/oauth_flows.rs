//! `RedisOAuthFlows` held to the `OAuthFlows` contract: single use (also under concurrency),
//! expiry by Redis, and `Unavailable` (not a hang) when Redis is down.

use keel_domain::Timestamp;
use keel_domain::oauth::{Nonce, OAuthFlow, PkceVerifier, Provider, SECRET_BYTES, StateToken};
use keel_domain::user::UserId;
use keel_ports::{OAuthFlows, StoreError};
use keel_redis::RedisOAuthFlows;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn flow(seconds: i64) -> OAuthFlow {
    OAuthFlow {
        provider: Provider::Github,
        pkce_verifier: PkceVerifier::generate([1; SECRET_BYTES]),
        nonce: Nonce::generate([2; SECRET_BYTES]),
        link_user: Some(UserId::new(3)),
        redirect_to_frontend: false,
        binding_digest: "digest".to_owned(),
        expires_at: Timestamp::new(time::OffsetDateTime::now_utc())
            .plus(time::Duration::seconds(seconds)),
    }
}

#[tokio::test]
async fn a_down_redis_is_unavailable_quickly() {
    let pool = keel_redis::connect("redis://127.0.0.1:1").expect("a valid URL");
    let flows = RedisOAuthFlows::new(pool, "");
    let started = Instant::now();
    let state = StateToken::generate([5; SECRET_BYTES]);
    assert!(matches!(
        flows.put(&state, &flow(300)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        flows.take(&state).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Needs Redis (`TEST_REDIS_URL`); left out, counted as skipped, when it is not configured.
mod redis {
    use super::*;

    #[tokio::test]
    async fn a_flow_is_taken_at_most_once_and_expires() {
        let (_, pool, prefix) = crate::limiter_on_redis().await;
        let flows = Arc::new(RedisOAuthFlows::new(pool, prefix));
        let state = StateToken::generate([5; SECRET_BYTES]);
        let stored = flow(300);
        flows.put(&state, &stored).await.expect("put");
        assert!(matches!(
            flows.put(&state, &stored).await,
            Err(StoreError::Conflict)
        ));
        let (a, b) = tokio::join!(
            {
                let (f, s) = (flows.clone(), state.clone());
                async move { f.take(&s).await }
            },
            {
                let (f, s) = (flows.clone(), state.clone());
                async move { f.take(&s).await }
            },
        );
        let got: Vec<OAuthFlow> = [a, b]
            .into_iter()
            .filter_map(|r| r.expect("take"))
            .collect();
        assert_eq!(got, [stored]);
        assert!(
            flows.take(&state).await.expect("take").is_none(),
            "a replay finds nothing"
        );

        let short = StateToken::generate([6; SECRET_BYTES]);
        flows.put(&short, &flow(1)).await.expect("put");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            flows.take(&short).await.expect("take").is_none(),
            "Redis expired it"
        );
    }
}
