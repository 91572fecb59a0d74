//! [`OAuthFlows`] in Redis: one key per flow, `{prefix}oauth:flow:{BASE64URL(SHA256(state))}`,
//! written with `SET … EX <seconds left> NX` and taken with `GETDEL`, so Redis expires
//! abandoned flows by itself and a state is used at most once even by concurrent callbacks
//! (GETDEL is atomic; Redis ≥ 6.2).
//!
//! The value is the flow's fields, one per line (every field is URL-safe text without line
//! breaks); the expiry is also kept in it so that the caller's own expiry check sees the exact
//! instant.

use crate::pool::{Pool, RedisError, run};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::oauth::{Nonce, OAuthFlow, PkceVerifier, Provider, StateToken};
use keel_domain::user::UserId;
use keel_ports::{OAuthFlows, StoreError};
use time::OffsetDateTime;

/// OAuth flows in Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisOAuthFlows {
    pool: Pool,
    prefix: String,
}

impl std::fmt::Debug for RedisOAuthFlows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOAuthFlows")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A stored value this build cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable OAuth flow in Redis: {0}")]
struct Unreadable(&'static str);

fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

fn encode(flow: &OAuthFlow) -> String {
    let micros = flow.expires_at.as_offset_date_time().unix_timestamp_nanos() / 1000;
    [
        flow.provider.as_str().to_owned(),
        flow.pkce_verifier.as_str().to_owned(),
        flow.nonce.as_str().to_owned(),
        flow.link_user
            .map(|u| u.get().to_string())
            .unwrap_or_default(),
        u8::from(flow.redirect_to_frontend).to_string(),
        flow.binding_digest.clone(),
        micros.to_string(),
    ]
    .join("\n")
}

fn decode(value: &str) -> Result<OAuthFlow, Unreadable> {
    let fields: Vec<&str> = value.split('\n').collect();
    let [
        provider,
        verifier,
        nonce,
        link_user,
        redirect,
        binding,
        expires,
    ] = fields[..]
    else {
        return Err(Unreadable("wrong number of fields"));
    };
    let micros: i128 = expires.parse().map_err(|_| Unreadable("expiry"))?;
    let expires_at = OffsetDateTime::from_unix_timestamp_nanos(micros * 1000)
        .map_err(|_| Unreadable("expiry"))?;
    Ok(OAuthFlow {
        provider: Provider::parse(provider).ok_or(Unreadable("provider"))?,
        pkce_verifier: PkceVerifier::new(verifier.to_owned()),
        nonce: Nonce::new(nonce.to_owned()),
        link_user: match link_user {
            "" => None,
            id => Some(UserId::new(
                id.parse().map_err(|_| Unreadable("link user"))?,
            )),
        },
        redirect_to_frontend: redirect == "1",
        binding_digest: binding.to_owned(),
        expires_at: Timestamp::new(expires_at),
    })
}

impl RedisOAuthFlows {
    /// Flows in the Redis behind `pool`, each key preceded by `prefix` (usually empty).
    pub fn new(pool: Pool, prefix: impl Into<String>) -> Self {
        Self {
            pool,
            prefix: prefix.into(),
        }
    }

    fn key(&self, state: &StateToken) -> String {
        format!("{}oauth:flow:{}", self.prefix, state.storage_key())
    }
}

#[async_trait]
impl OAuthFlows for RedisOAuthFlows {
    #[tracing::instrument(name = "redis.oauth_flows.put", skip_all, fields(otel.kind = "client"))]
    async fn put(&self, state: &StateToken, flow: &OAuthFlow) -> Result<(), StoreError> {
        let now = Timestamp::new(OffsetDateTime::now_utc());
        let seconds = flow.expires_at.since(now).whole_seconds().max(1);
        let (key, value) = (self.key(state), encode(flow));
        let stored: Option<String> = run(&self.pool, |mut connection| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("EX")
                .arg(seconds)
                .arg("NX")
                .query_async(&mut *connection)
                .await
        })
        .await
        .map_err(unavailable)?;
        // NX: `nil` when the key exists.
        stored.map(|_| ()).ok_or(StoreError::Conflict)
    }

    #[tracing::instrument(name = "redis.oauth_flows.take", skip_all, fields(otel.kind = "client"))]
    async fn take(&self, state: &StateToken) -> Result<Option<OAuthFlow>, StoreError> {
        let key = self.key(state);
        let value: Option<String> = run(&self.pool, |mut connection| async move {
            redis::cmd("GETDEL")
                .arg(&key)
                .query_async(&mut *connection)
                .await
        })
        .await
        .map_err(unavailable)?;
        value
            .map(|v| decode(&v).map_err(|e| StoreError::Unexpected(Box::new(e))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::oauth::SECRET_BYTES;

    #[test]
    fn flows_round_trip_through_the_stored_text() {
        let flow = OAuthFlow {
            provider: Provider::Apple,
            pkce_verifier: PkceVerifier::generate([1; SECRET_BYTES]),
            nonce: Nonce::generate([2; SECRET_BYTES]),
            link_user: Some(UserId::new(42)),
            redirect_to_frontend: true,
            binding_digest: "digest".to_owned(),
            expires_at: Timestamp::new(
                OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_000)
                    .expect("valid"),
            ),
        };
        assert_eq!(decode(&encode(&flow)).expect("decodes"), flow);
        let anonymous = OAuthFlow {
            link_user: None,
            redirect_to_frontend: false,
            ..flow
        };
        assert_eq!(decode(&encode(&anonymous)).expect("decodes"), anonymous);
        assert!(decode("apple\nonly three\nfields").is_err());
        assert!(decode("nope\na\nb\n\n1\nd\n0").is_err());
        assert!(decode("apple\na\nb\nx\n1\nd\n0").is_err());
        assert!(decode("apple\na\nb\n\n1\nd\nsoon").is_err());
    }
}
