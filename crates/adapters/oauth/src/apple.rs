//! Sign in with Apple's client secret: instead of a static secret, Apple wants a short-lived
//! ES256 JWT signed with the developer's `.p8` key (`iss` = team id, `sub` = client id, `aud` =
//! `https://appleid.apple.com`, `kid` header = key id, lifetime at most six months).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keel_ports::ProviderError;
use serde::Serialize;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience Apple requires in the client secret.
pub const APPLE_AUDIENCE: &str = "https://appleid.apple.com";
/// How long a minted client secret is valid. One is minted per code exchange, so a few minutes
/// suffice (Apple allows up to 15 777 000 s, six months).
pub const CLIENT_SECRET_LIFETIME_SECONDS: u64 = 300;

/// Mints Apple client secrets.
#[derive(Clone)]
pub(crate) struct AppleSecret {
    key: EncodingKey,
    team_id: String,
    key_id: String,
    client_id: String,
}

impl fmt::Debug for AppleSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppleSecret")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
    exp: u64,
    aud: &'static str,
    sub: &'a str,
}

impl AppleSecret {
    /// Parses the PEM (PKCS#8 `.p8`) P-256 private key.
    pub(crate) fn new(
        private_key_pem: &str,
        team_id: String,
        key_id: String,
        client_id: String,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes())?;
        let secret = Self {
            key,
            team_id,
            key_id,
            client_id,
        };
        // A key that parses but cannot sign (e.g. not P-256) is found at start-up, not at the
        // first login.
        secret.mint_at(0)?;
        Ok(secret)
    }

    /// A client secret valid from now for [`CLIENT_SECRET_LIFETIME_SECONDS`].
    pub(crate) fn mint(&self) -> Result<String, ProviderError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        self.mint_at(now).map_err(|error| {
            ProviderError::ExchangeFailed(format!(
                "the Apple client secret cannot be signed: {error}"
            ))
        })
    }

    fn mint_at(&self, now: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            iat: now,
            exp: now + CLIENT_SECRET_LIFETIME_SECONDS,
            aud: APPLE_AUDIENCE,
            sub: &self.client_id,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}
