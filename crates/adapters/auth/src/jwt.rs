//! JWT access and refresh tokens, HMAC-signed with one pinned algorithm.
//!
//! Owns the token wire format: the claims `sub` (the user id as a string), `user_id` (the same
//! id as an integer), `iss`, `aud`, `iat`, `exp` (Unix seconds), `token_type` (`access` or
//! `refresh`), `fam` (the session family; optional on access tokens) and, on refresh tokens,
//! `jti`.
//!
//! Invariants kept by [`JwtCodec`]:
//! - only the configured algorithm verifies: `alg: none`, unsigned tokens and tokens signed with
//!   any other algorithm (even another HMAC one with the same secret) are [`TokenError::Invalid`];
//! - every claim above is required and typed; `iss` and `aud` must equal the configured strings
//!   exactly (no arrays), and `sub` must name the same user as `user_id`;
//! - expiry is judged against the `now` the caller passes, never the system clock: a token is
//!   [`TokenError::Expired`] once `exp <= now`;
//! - a token of the other type is [`TokenError::WrongType`].

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use keel_domain::Timestamp;
use keel_domain::session::{FamilyId, IssuedToken, TokenId};
use keel_domain::user::UserId;
use keel_ports::{AccessClaims, RefreshClaims, TokenCodec, TokenError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::Duration;
use uuid::Uuid;

/// The HMAC algorithms a [`JwtCodec`] can be pinned to (the `ALGORITHM` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (the default).
    #[default]
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl JwtAlgorithm {
    /// Every accepted algorithm, in the order error messages list them.
    pub const ALL: [Self; 3] = [Self::HS256, Self::HS384, Self::HS512];

    /// The JOSE name, as in the `alg` header and the `ALGORITHM` setting.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    const fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of `HS256`, `HS384`, `HS512` (matched exactly, case included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWT algorithm {0:?}: expected one of HS256, HS384, HS512")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for JwtAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str() == name)
            .ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }
}

/// Why a [`JwtCodec`] cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// The signing secret is empty: anyone could forge tokens.
    #[error("the JWT signing secret is empty")]
    EmptySecret,
    /// The issuer is empty.
    #[error("the token issuer is empty")]
    EmptyIssuer,
    /// The audience is empty.
    #[error("the token audience is empty")]
    EmptyAudience,
    /// The access-token lifetime is shorter than one second (`exp` has whole seconds).
    #[error("the access-token lifetime must be at least one second")]
    AccessTtlTooShort,
}

/// The `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TokenType {
    Access,
    Refresh,
}

/// The claims as they travel. Every field without a default is required: a token missing one
/// does not deserialize and is refused as invalid.
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: String,
    user_id: i64,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    token_type: TokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<Uuid>,
}

/// [`TokenCodec`] for HMAC-signed JWTs.
pub struct JwtCodec {
    algorithm: JwtAlgorithm,
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
}

impl JwtCodec {
    /// A codec signing with `secret` under `algorithm`, stamping and requiring `issuer` and
    /// `audience`, and issuing access tokens valid for `access_ttl` (whole seconds count).
    ///
    /// Also makes jsonwebtoken's RustCrypto backend the process default unless another
    /// provider was installed first: with a single backend feature jsonwebtoken would pick it by
    /// itself, but if feature unification ever enables a second one it would otherwise panic
    /// on first use.
    ///
    /// # Errors
    /// [`JwtConfigError`] for an empty secret, issuer or audience, or a lifetime under a second.
    pub fn new(
        secret: SecretString,
        algorithm: JwtAlgorithm,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        access_ttl: Duration,
    ) -> Result<Self, JwtConfigError> {
        // The key copies below are wiped on drop (jsonwebtoken zeroizes its keys); so is `secret`.
        let key = secret.expose_secret().as_bytes();
        let (issuer, audience) = (issuer.into(), audience.into());
        if key.is_empty() {
            return Err(JwtConfigError::EmptySecret);
        }
        if issuer.is_empty() {
            return Err(JwtConfigError::EmptyIssuer);
        }
        if audience.is_empty() {
            return Err(JwtConfigError::EmptyAudience);
        }
        if access_ttl < Duration::SECOND {
            return Err(JwtConfigError::AccessTtlTooShort);
        }
        // An `Err` means a provider is installed already (ours or the application's): keep it.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

        let alg = algorithm.to_jsonwebtoken();
        let mut validation = Validation::new(alg);
        // jsonwebtoken would judge `exp` by the system clock; the codec judges it against the
        // caller's `now` instead, and checks `iss`/`aud` exactly itself. These settings are a
        // second line: presence of the registered claims and set membership of `iss`/`aud`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer.as_str()]);
        validation.set_audience(&[audience.as_str()]);

        Ok(Self {
            algorithm,
            header: Header::new(alg),
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            issuer,
            audience,
            access_ttl,
        })
    }

    /// The algorithm tokens are signed with and must carry.
    #[must_use]
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    fn claims(
        &self,
        user: UserId,
        token_type: TokenType,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> WireClaims {
        WireClaims {
            sub: user.get().to_string(),
            user_id: user.get(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: issued_at.unix_seconds(),
            exp: expires_at.unix_seconds(),
            token_type,
            jti: None,
            fam: None,
        }
    }

    fn sign(&self, claims: &WireClaims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
            .map_err(|e| TokenError::Encode(e.to_string()))
    }

    /// Checks, in order: algorithm, signature, claim presence and types, `iss`, `aud`, `sub`
    /// against `user_id`, expiry, type.
    fn decode(
        &self,
        token: &str,
        now: Timestamp,
        expected: TokenType,
    ) -> Result<WireClaims, TokenError> {
        let claims = jsonwebtoken::decode::<WireClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::debug!(reason = %e, "refused a token that failed signature or claim checks");
                TokenError::Invalid
            })?
            .claims;
        if claims.iss != self.issuer
            || claims.aud != self.audience
            || claims.sub != claims.user_id.to_string()
        {
            return Err(TokenError::Invalid);
        }
        // `now` may carry microseconds; comparing whole seconds keeps `exp <= now` exact.
        if claims.exp <= now.unix_seconds() {
            return Err(TokenError::Expired);
        }
        if claims.token_type != expected {
            return Err(TokenError::WrongType);
        }
        Ok(claims)
    }
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenCodec for JwtCodec {
    fn issue_access(
        &self,
        user: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> Result<String, TokenError> {
        let mut claims = self.claims(user, TokenType::Access, now, now.plus(self.access_ttl));
        claims.fam = Some(family.get());
        self.sign(&claims)
    }

    fn issue_refresh(
        &self,
        user: UserId,
        family: FamilyId,
        token: &IssuedToken,
    ) -> Result<String, TokenError> {
        // `exp` is the session's own expiry, so the token and the stored family agree.
        let mut claims = self.claims(user, TokenType::Refresh, token.issued_at, token.expires_at);
        claims.jti = Some(token.jti.get());
        claims.fam = Some(family.get());
        self.sign(&claims)
    }

    fn verify_access(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        let claims = self.decode(token, now, TokenType::Access)?;
        Ok(AccessClaims {
            user_id: UserId::new(claims.user_id),
            family: claims.fam.map(FamilyId::new),
        })
    }

    fn verify_refresh(&self, token: &str, now: Timestamp) -> Result<RefreshClaims, TokenError> {
        let claims = self.decode(token, now, TokenType::Refresh)?;
        let (Some(jti), Some(fam)) = (claims.jti, claims.fam) else {
            return Err(TokenError::Invalid);
        };
        Ok(RefreshClaims {
            user_id: UserId::new(claims.user_id),
            family: FamilyId::new(fam),
            jti: TokenId::new(jti),
        })
    }

    fn access_ttl(&self) -> Duration {
        self.access_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SECRET: &str = "test secret: long enough for HS512 and then some";
    const ISSUER: &str = "keel";
    const AUDIENCE: &str = "keel-api";

    fn codec_with(algorithm: JwtAlgorithm, secret: &str, issuer: &str, audience: &str) -> JwtCodec {
        JwtCodec::new(
            SecretString::from(secret),
            algorithm,
            issuer,
            audience,
            Duration::minutes(60),
        )
        .expect("valid configuration")
    }

    fn codec() -> JwtCodec {
        codec_with(JwtAlgorithm::HS256, SECRET, ISSUER, AUDIENCE)
    }

    fn t0() -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000).expect("valid instant")
    }

    fn user() -> UserId {
        UserId::new(42)
    }

    fn family() -> FamilyId {
        FamilyId::new(Uuid::from_u128(0xfa))
    }

    fn issued() -> IssuedToken {
        IssuedToken {
            jti: TokenId::new(Uuid::from_u128(0x1d)),
            issued_at: t0(),
            expires_at: t0().plus(Duration::days(30)),
            rotated_from: None,
        }
    }

    fn access(codec: &JwtCodec) -> String {
        codec
            .issue_access(user(), family(), t0())
            .expect("signs access")
    }

    fn refresh(codec: &JwtCodec) -> String {
        codec
            .issue_refresh(user(), family(), &issued())
            .expect("signs refresh")
    }

    /// Base64url without padding, for forging token parts by hand.
    fn b64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0_u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    fn parts(token: &str) -> Vec<&str> {
        token.split('.').collect()
    }

    fn claims_of(token: &str) -> Value {
        jsonwebtoken::dangerous::insecure_decode_claims(token).expect("readable claims")
    }

    /// Signs arbitrary claims with the test secret, as a holder of the key could.
    fn sign_raw(claims: &Value, alg: Algorithm) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("signs")
    }

    fn valid_refresh_claims() -> Value {
        json!({
            "sub": "42", "user_id": 42, "iss": ISSUER, "aud": AUDIENCE,
            "iat": 1_800_000_000, "exp": 1_802_592_000, "token_type": "refresh",
            "jti": Uuid::from_u128(1).to_string(), "fam": Uuid::from_u128(2).to_string(),
        })
    }

    #[test]
    fn algorithm_names_parse_exactly() {
        for algorithm in JwtAlgorithm::ALL {
            assert_eq!(algorithm.as_str().parse(), Ok(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.as_str());
        }
        for bad in [
            "", "hs256", "Hs256", " HS256", "HS256 ", "RS256", "ES256", "none", "HS",
        ] {
            assert_eq!(
                bad.parse::<JwtAlgorithm>(),
                Err(UnknownAlgorithm(bad.to_owned()))
            );
        }
        assert_eq!(JwtAlgorithm::default(), JwtAlgorithm::HS256);
        let message = "RS256"
            .parse::<JwtAlgorithm>()
            .expect_err("refused")
            .to_string();
        assert!(message.contains("HS256, HS384, HS512"), "{message}");
    }

    #[test]
    fn weak_configurations_are_refused() {
        let build = |secret: &str, issuer: &str, audience: &str, ttl: Duration| {
            JwtCodec::new(
                SecretString::from(secret),
                JwtAlgorithm::HS256,
                issuer,
                audience,
                ttl,
            )
            .map(|_| ())
        };
        let hour = Duration::hours(1);
        assert_eq!(
            build("", ISSUER, AUDIENCE, hour),
            Err(JwtConfigError::EmptySecret)
        );
        assert_eq!(
            build(SECRET, "", AUDIENCE, hour),
            Err(JwtConfigError::EmptyIssuer)
        );
        assert_eq!(
            build(SECRET, ISSUER, "", hour),
            Err(JwtConfigError::EmptyAudience)
        );
        for ttl in [Duration::ZERO, Duration::milliseconds(999), -hour] {
            assert_eq!(
                build(SECRET, ISSUER, AUDIENCE, ttl),
                Err(JwtConfigError::AccessTtlTooShort)
            );
        }
        assert_eq!(build(SECRET, ISSUER, AUDIENCE, Duration::SECOND), Ok(()));
    }

    #[test]
    fn tokens_round_trip_under_every_algorithm() {
        for algorithm in JwtAlgorithm::ALL {
            let codec = codec_with(algorithm, SECRET, ISSUER, AUDIENCE);
            assert_eq!(codec.algorithm(), algorithm);
            let access = access(&codec);
            let refresh = refresh(&codec);
            for token in [&access, &refresh] {
                let header = jsonwebtoken::decode_header(token).expect("header");
                assert_eq!(header.alg, algorithm.to_jsonwebtoken());
            }
            assert_eq!(
                codec.verify_access(&access, t0()).expect("valid access"),
                AccessClaims {
                    user_id: user(),
                    family: Some(family())
                }
            );
            assert_eq!(
                codec.verify_refresh(&refresh, t0()).expect("valid refresh"),
                RefreshClaims {
                    user_id: user(),
                    family: family(),
                    jti: issued().jti
                }
            );
        }
    }

    #[test]
    fn access_tokens_carry_exactly_the_documented_claims() {
        let claims = claims_of(&access(&codec()));
        assert_eq!(
            claims,
            json!({
                "sub": "42", "user_id": 42, "iss": "keel", "aud": "keel-api",
                "iat": 1_800_000_000, "exp": 1_800_003_600, "token_type": "access",
                "fam": family().get().to_string(),
            })
        );
        assert_eq!(codec().access_ttl(), Duration::minutes(60));
    }

    #[test]
    fn refresh_tokens_expire_with_their_issued_token() {
        let mut token = issued();
        token.expires_at = token.expires_at.plus(Duration::milliseconds(250));
        let codec = codec();
        let jwt = codec
            .issue_refresh(user(), family(), &token)
            .expect("signs");
        let claims = claims_of(&jwt);
        assert_eq!(claims["exp"], json!(token.expires_at.unix_seconds()));
        assert_eq!(claims["iat"], json!(token.issued_at.unix_seconds()));
        assert_eq!(claims["jti"], json!(token.jti.get().to_string()));
        assert_eq!(claims["fam"], json!(family().get().to_string()));
        assert_eq!(claims["token_type"], json!("refresh"));
        let last_second = Timestamp::from_unix_seconds(token.expires_at.unix_seconds() - 1)
            .expect("valid instant");
        assert!(codec.verify_refresh(&jwt, last_second).is_ok());
        let at_exp =
            Timestamp::from_unix_seconds(token.expires_at.unix_seconds()).expect("valid instant");
        assert!(matches!(
            codec.verify_refresh(&jwt, at_exp),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn expiry_is_judged_by_the_given_clock_not_the_system_clock() {
        let codec = codec();
        // Issued in 2000: long expired by the system clock, valid by the clock passed in.
        let y2k = Timestamp::from_unix_seconds(946_684_800).expect("valid instant");
        let token = codec.issue_access(user(), family(), y2k).expect("signs");
        assert!(codec.verify_access(&token, y2k).is_ok());
        let just_before = y2k
            .plus(Duration::seconds(3599))
            .plus(Duration::microseconds(999_999));
        assert!(codec.verify_access(&token, just_before).is_ok());
        for late in [y2k.plus(Duration::hours(1)), y2k.plus(Duration::days(3650))] {
            assert!(matches!(
                codec.verify_access(&token, late),
                Err(TokenError::Expired)
            ));
        }
    }

    #[test]
    fn alg_none_and_unsigned_tokens_are_invalid() {
        let codec = codec();
        let genuine = access(&codec);
        let [_, payload, signature] = parts(&genuine)[..] else {
            panic!("three parts")
        };
        let none = b64url(br#"{"alg":"none"}"#);
        assert_eq!(none, "eyJhbGciOiJub25lIn0");
        let none_jwt = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        let no_alg = b64url(br#"{"typ":"JWT"}"#);
        let hs256 = parts(&genuine)[0];
        for forged in [
            format!("{none}.{payload}."),
            format!("{none}.{payload}"),
            format!("{none_jwt}.{payload}."),
            format!("{none_jwt}.{payload}.{signature}"),
            format!("{no_alg}.{payload}.{signature}"),
            format!("{hs256}.{payload}."),
            format!("{hs256}.{payload}"),
        ] {
            assert!(
                matches!(codec.verify_access(&forged, t0()), Err(TokenError::Invalid)),
                "{forged} should be invalid"
            );
        }
    }

    #[test]
    fn tokens_signed_with_another_algorithm_are_invalid_even_with_the_same_secret() {
        for signer in JwtAlgorithm::ALL {
            for verifier in JwtAlgorithm::ALL {
                if signer == verifier {
                    continue;
                }
                let signing = codec_with(signer, SECRET, ISSUER, AUDIENCE);
                let verifying = codec_with(verifier, SECRET, ISSUER, AUDIENCE);
                assert!(matches!(
                    verifying.verify_access(&access(&signing), t0()),
                    Err(TokenError::Invalid)
                ));
                assert!(matches!(
                    verifying.verify_refresh(&refresh(&signing), t0()),
                    Err(TokenError::Invalid)
                ));
            }
        }
        // The same claims with the right key but an HS384 header: still refused by HS256.
        let hs384 = sign_raw(&valid_refresh_claims(), Algorithm::HS384);
        assert!(matches!(
            codec().verify_refresh(&hs384, t0()),
            Err(TokenError::Invalid)
        ));
        let hs256 = sign_raw(&valid_refresh_claims(), Algorithm::HS256);
        assert!(codec().verify_refresh(&hs256, t0()).is_ok());
    }

    #[test]
    fn tokens_signed_with_another_secret_are_invalid() {
        let other = codec_with(JwtAlgorithm::HS256, "another secret", ISSUER, AUDIENCE);
        assert!(matches!(
            codec().verify_access(&access(&other), t0()),
            Err(TokenError::Invalid)
        ));
        assert!(matches!(
            codec().verify_refresh(&refresh(&other), t0()),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn another_issuer_or_audience_is_invalid() {
        let codec = codec();
        for other in [
            codec_with(JwtAlgorithm::HS256, SECRET, "keel-staging", AUDIENCE),
            codec_with(JwtAlgorithm::HS256, SECRET, "Keel", AUDIENCE),
            codec_with(JwtAlgorithm::HS256, SECRET, ISSUER, "keel-admin"),
            codec_with(JwtAlgorithm::HS256, SECRET, ISSUER, "keel-api "),
        ] {
            assert!(matches!(
                codec.verify_access(&access(&other), t0()),
                Err(TokenError::Invalid)
            ));
            assert!(matches!(
                codec.verify_refresh(&refresh(&other), t0()),
                Err(TokenError::Invalid)
            ));
        }
        // Arrays that merely contain the expected value are not exact matches.
        for (claim, value) in [
            ("aud", json!([AUDIENCE])),
            ("aud", json!([AUDIENCE, "other"])),
            ("iss", json!([ISSUER])),
        ] {
            let mut claims = valid_refresh_claims();
            claims[claim] = value;
            let token = sign_raw(&claims, Algorithm::HS256);
            assert!(matches!(
                codec.verify_refresh(&token, t0()),
                Err(TokenError::Invalid)
            ));
        }
    }

    #[test]
    fn a_token_of_the_other_type_is_the_wrong_type() {
        let codec = codec();
        assert!(matches!(
            codec.verify_access(&refresh(&codec), t0()),
            Err(TokenError::WrongType)
        ));
        assert!(matches!(
            codec.verify_refresh(&access(&codec), t0()),
            Err(TokenError::WrongType)
        ));
    }

    #[test]
    fn garbage_and_tampered_tokens_are_invalid() {
        let codec = codec();
        let genuine = access(&codec);
        let other = codec
            .issue_access(UserId::new(7), family(), t0())
            .expect("signs");
        let [header, payload, signature] = parts(&genuine)[..] else {
            panic!("three parts")
        };
        let mut flipped = signature.to_owned();
        let last = if flipped.ends_with('A') { "B" } else { "A" };
        flipped.replace_range(flipped.len() - 1.., last);
        let swapped_payload = format!("{header}.{}.{signature}", parts(&other)[1]);
        for garbage in [
            String::new(),
            ".".to_owned(),
            "..".to_owned(),
            "a.b.c".to_owned(),
            "not a token".to_owned(),
            "Bearer x.y.z".to_owned(),
            format!("{header}.{payload}.{flipped}"),
            swapped_payload,
            format!("{genuine}.extra"),
            format!("{header}.{payload}"),
            format!(" {genuine}"),
        ] {
            assert!(
                matches!(
                    codec.verify_access(&garbage, t0()),
                    Err(TokenError::Invalid)
                ),
                "{garbage:?} should be invalid"
            );
            assert!(matches!(
                codec.verify_refresh(&garbage, t0()),
                Err(TokenError::Invalid)
            ));
        }
    }

    #[test]
    fn missing_claims_are_invalid() {
        let codec = codec();
        let Value::Object(valid) = valid_refresh_claims() else {
            panic!("an object")
        };
        for claim in valid.keys() {
            let mut claims = valid.clone();
            claims.remove(claim);
            let token = sign_raw(&Value::Object(claims), Algorithm::HS256);
            assert!(
                matches!(codec.verify_refresh(&token, t0()), Err(TokenError::Invalid)),
                "a refresh token without {claim} should be invalid"
            );
        }
    }

    #[test]
    fn ill_typed_or_inconsistent_claims_are_invalid() {
        let codec = codec();
        for (claim, value) in [
            ("sub", json!(42)),
            ("sub", json!("43")),
            ("sub", json!("042")),
            ("user_id", json!("42")),
            ("user_id", json!(42.5)),
            ("iss", json!(null)),
            ("aud", json!(7)),
            ("iat", json!("1800000000")),
            ("exp", json!("1802592000")),
            ("exp", json!(null)),
            ("token_type", json!("id")),
            ("token_type", json!("Refresh")),
            ("jti", json!("not-a-uuid")),
            ("jti", json!(null)),
            ("fam", json!(7)),
        ] {
            let mut claims = valid_refresh_claims();
            claims[claim] = value.clone();
            let token = sign_raw(&claims, Algorithm::HS256);
            assert!(
                matches!(codec.verify_refresh(&token, t0()), Err(TokenError::Invalid)),
                "{claim} = {value} should be invalid"
            );
        }
    }

    #[test]
    fn the_family_is_optional_on_access_tokens_only() {
        let codec = codec();
        let mut claims = claims_of(&access(&codec));
        claims.as_object_mut().expect("an object").remove("fam");
        let token = sign_raw(&claims, Algorithm::HS256);
        assert_eq!(
            codec
                .verify_access(&token, t0())
                .expect("valid without fam"),
            AccessClaims {
                user_id: user(),
                family: None
            }
        );
        claims["fam"] = json!("not-a-uuid");
        let token = sign_raw(&claims, Algorithm::HS256);
        assert!(matches!(
            codec.verify_access(&token, t0()),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", codec());
        assert!(shown.contains("HS256") && shown.contains("keel-api"));
        assert!(!shown.contains("test secret"));
    }
}
