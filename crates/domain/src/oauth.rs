//! OAuth and OpenID Connect sign-in: which providers exist, what a provider vouches for about a
//! person (an [`ExternalIdentity`]), and the pure rules of the flow:
//!
//! - the secrets of a flow ([`StateToken`], [`PkceVerifier`], [`Nonce`], [`BrowserBinding`]) are
//!   made from random bytes the caller supplies (randomness is an argument), in the URL-safe
//!   alphabet `A–Z a–z 0–9 - _` (a subset of RFC 3986's unreserved characters `A–Z a–z 0–9 - _ . ~`);
//! - a flow ([`OAuthFlow`]) is kept server-side under its state and accepted at the callback
//!   only for its own provider, from the browser that started it, before it expires
//!   ([`OAuthFlow::accept`]);
//! - what a verified identity does to the accounts ([`decide`]): log in, link, create a user,
//!   or refuse — never linking by an email the provider did not verify.

use crate::Timestamp;
use crate::user::{Email, UserId};
use sha2::{Digest, Sha256};
use std::fmt;

/// A sign-in provider keel knows. The order of [`Provider::ALL`] is the order of
/// `GET /auth/oauth/providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Google (OpenID Connect).
    Google,
    /// Microsoft identity platform (OpenID Connect).
    Microsoft,
    /// Sign in with Apple (OpenID Connect, `form_post` callback, client-secret JWT).
    Apple,
    /// Facebook Login (OAuth 2.0 + Graph API profile).
    Facebook,
    /// GitHub (OAuth 2.0 + the verified primary email from its emails API).
    Github,
    /// Any standard OpenID Connect provider, configured by issuer URL (discovery).
    Oidc,
}

impl Provider {
    /// Every provider, in listing order.
    pub const ALL: [Provider; 6] = [
        Provider::Google,
        Provider::Microsoft,
        Provider::Apple,
        Provider::Facebook,
        Provider::Github,
        Provider::Oidc,
    ];

    /// The provider's name in URLs, configuration and stored identities (`google`, …, `oidc`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Apple => "apple",
            Provider::Facebook => "facebook",
            Provider::Github => "github",
            Provider::Oidc => "oidc",
        }
    }

    /// The provider named `name` exactly (lower case), if keel knows it.
    #[must_use]
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a provider vouches for after a successful code exchange (and, for OpenID providers, a
/// fully validated ID token). Identities are keyed by (`issuer`, `subject`) — never by a name
/// or an email claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The issuer: the ID token's `iss` for OpenID providers, a fixed identifier (e.g.
    /// `https://github.com`) for plain OAuth 2.0 providers.
    pub issuer: String,
    /// The provider's stable identifier of the person (`sub`, or the account id).
    pub subject: String,
    /// The email the provider reports, if any (as reported; normalised by the use case).
    pub email: Option<String>,
    /// Whether the provider says it verified that email. `false` when there is no email.
    pub email_verified: bool,
}

/// Bytes of randomness behind every flow secret (256 bits).
pub const SECRET_BYTES: usize = 32;

/// Shortest accepted `state` (a shorter value cannot carry 128 bits in this alphabet).
pub const STATE_MIN_LEN: usize = 22;
/// Longest accepted `state`.
pub const STATE_MAX_LEN: usize = 128;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5), the encoding of every flow secret.
#[must_use]
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = chunk.len() + 1;
        for i in 0..sextets {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(BASE64URL[index as usize]));
        }
    }
    out
}

/// Whether `c` is one of the characters allowed in a `state` (RFC 3986 unreserved).
#[must_use]
pub fn is_state_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

fn sha256_base64url(value: &str) -> String {
    base64url(&Sha256::digest(value.as_bytes()))
}

/// The opaque, single-use `state` of a flow: it travels through the browser and references the
/// flow kept server-side. It carries nothing but randomness.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StateToken(String);

impl StateToken {
    /// A new state from [`SECRET_BYTES`] random bytes.
    #[must_use]
    pub fn generate(random: [u8; SECRET_BYTES]) -> Self {
        Self(base64url(&random))
    }

    /// A state as received at the callback, if it has an acceptable shape
    /// ([`STATE_MIN_LEN`]..=[`STATE_MAX_LEN`] characters of the allowed alphabet). A value that
    /// does not is refused without looking anything up.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        let len = raw.len();
        ((STATE_MIN_LEN..=STATE_MAX_LEN).contains(&len) && raw.chars().all(is_state_char))
            .then(|| Self(raw.to_owned()))
    }

    /// The value sent to the provider.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key the flow is stored under: `BASE64URL(SHA256(state))`, so that a leaked store
    /// does not hand out live states.
    #[must_use]
    pub fn storage_key(&self) -> String {
        sha256_base64url(&self.0)
    }
}

impl fmt::Debug for StateToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateToken(<redacted>)")
    }
}

/// The PKCE code verifier of a flow (RFC 7636): kept server-side, never sent to the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// A new verifier from [`SECRET_BYTES`] random bytes (43 characters).
    #[must_use]
    pub fn generate(random: [u8; SECRET_BYTES]) -> Self {
        Self(base64url(&random))
    }

    /// A stored verifier.
    #[must_use]
    pub fn new(stored: String) -> Self {
        Self(stored)
    }

    /// The verifier, for the token request.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its S256 challenge: `BASE64URL(SHA256(verifier))`.
    #[must_use]
    pub fn challenge(&self) -> String {
        sha256_base64url(&self.0)
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier(<redacted>)")
    }
}

/// The nonce an OpenID provider must echo in its ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonce(String);

impl Nonce {
    /// A new nonce from [`SECRET_BYTES`] random bytes.
    #[must_use]
    pub fn generate(random: [u8; SECRET_BYTES]) -> Self {
        Self(base64url(&random))
    }

    /// A stored nonce.
    #[must_use]
    pub fn new(stored: String) -> Self {
        Self(stored)
    }

    /// The nonce.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The random value of a browser's binding cookie. One value serves every flow a browser
/// starts; each flow stores only its [`BrowserBinding::digest`].
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserBinding(String);

impl BrowserBinding {
    /// A new binding from [`SECRET_BYTES`] random bytes.
    #[must_use]
    pub fn generate(random: [u8; SECRET_BYTES]) -> Self {
        Self(base64url(&random))
    }

    /// A binding as read from the cookie, if it has the shape keel gives them (43 URL-safe
    /// characters); anything else is treated as no binding.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 43
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then(|| Self(raw.to_owned()))
    }

    /// The cookie value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a flow stores: `BASE64URL(SHA256(value))`.
    #[must_use]
    pub fn digest(&self) -> String {
        sha256_base64url(&self.0)
    }
}

impl fmt::Debug for BrowserBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserBinding(<redacted>)")
    }
}

/// A flow in progress, kept server-side under its [`StateToken`] until the callback takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    /// The provider that the state was issued for.
    pub provider: Provider,
    /// The PKCE verifier.
    pub pkce_verifier: PkceVerifier,
    /// The nonce the ID token must carry.
    pub nonce: Nonce,
    /// `Some(user)` when the flow links an identity to that signed-in user.
    pub link_user: Option<UserId>,
    /// Whether the callback ends with a redirect to the frontend.
    pub redirect_to_frontend: bool,
    /// [`BrowserBinding::digest`] of the browser that started the flow.
    pub binding_digest: String,
    /// When the state stops being accepted.
    pub expires_at: Timestamp,
}

/// Why a callback's flow is refused (all answer `invalid_oauth_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateRejection {
    /// Past its expiry.
    #[error("the state has expired")]
    Expired,
    /// Issued for another provider.
    #[error("the state was issued for another provider")]
    OtherProvider,
    /// Started in another browser (or the binding cookie is missing).
    #[error("the state was started in another browser")]
    OtherBrowser,
}

impl OAuthFlow {
    /// Whether the flow has expired at `now` (expiry instant included).
    #[must_use]
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Accepts the flow for a callback of `provider`, from the browser holding `binding`, at
    /// `now`.
    ///
    /// # Errors
    /// The first [`StateRejection`] that applies, checked in the order expiry, provider, browser.
    pub fn accept(
        &self,
        provider: Provider,
        binding: Option<&BrowserBinding>,
        now: Timestamp,
    ) -> Result<(), StateRejection> {
        if self.is_expired(now) {
            return Err(StateRejection::Expired);
        }
        if self.provider != provider {
            return Err(StateRejection::OtherProvider);
        }
        match binding {
            Some(binding) if binding.digest() == self.binding_digest => Ok(()),
            _ => Err(StateRejection::OtherBrowser),
        }
    }
}

/// A user account as far as the linking decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFacts {
    /// The user.
    pub user: UserId,
    /// Whether the user already has an identity of the flow's provider.
    pub has_provider: bool,
    /// Whether the account's own email is verified (by a mailed token or the provider that
    /// created it). Only read for [`LinkFacts::email_account`]: an explicit link does not
    /// depend on it.
    pub email_verified: bool,
}

/// Everything [`decide`] looks at, gathered by the use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// The user the identity (issuer, subject) is already linked to, if any.
    pub identity_owner: Option<UserId>,
    /// The signed-in user of a `link/start` flow.
    pub link_intent: Option<AccountFacts>,
    /// The identity's email, normalised, when the provider gave a valid one.
    pub email: Option<Email>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// The account registered with that email, if any.
    pub email_account: Option<AccountFacts>,
}

/// What a verified identity does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDecision {
    /// A known identity: log its user in.
    Login(UserId),
    /// A new identity whose verified email belongs to this account: link it, then log in.
    LinkAndLogin(UserId),
    /// A new identity with a new email: create a user (no password) with the identity linked.
    CreateUser(Email),
    /// An explicit link: attach the identity to the signed-in user.
    Link(UserId),
    /// An explicit link of an identity already linked to the same user: nothing to do.
    AlreadyLinked(UserId),
    /// Refused.
    Refuse(LinkRefusal),
}

/// Why an identity is refused (each is one `error_code`, docs/contract.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// A new identity without a usable email cannot become an account
    /// → 422 `oauth_email_required`.
    #[error("the provider did not share an email address")]
    EmailRequired,
    /// The email matches an account but the provider did not verify it, or the account's own
    /// email is not verified (anyone can register an address with a password)
    /// → 409 `oauth_email_unverified`.
    #[error("the provider has not verified this email address")]
    EmailUnverified,
    /// The identity is linked to another user → 409 `oauth_identity_already_linked`.
    #[error("this identity is already linked to another account")]
    IdentityAlreadyLinked,
    /// The user already has another identity of this provider
    /// → 409 `oauth_provider_already_linked`.
    #[error("this account is already linked to another identity of this provider")]
    ProviderAlreadyLinked,
}

/// The account rules (docs/contract.md, "Accounts and OAuth identities"): a known identity logs its user in; in a `link/start` flow the
/// identity is attached to the signed-in user unless it belongs to someone else or that user
/// already has this provider; otherwise a new identity links to the account with its email only
/// when the provider verified that email AND the account's email is verified (else an attacker
/// who registered the address first would keep a way in), and creates a user when no account
/// has it.
#[must_use]
pub fn decide(facts: &LinkFacts) -> LinkDecision {
    if let Some(intent) = facts.link_intent {
        return match facts.identity_owner {
            Some(owner) if owner == intent.user => LinkDecision::AlreadyLinked(owner),
            Some(_) => LinkDecision::Refuse(LinkRefusal::IdentityAlreadyLinked),
            None if intent.has_provider => LinkDecision::Refuse(LinkRefusal::ProviderAlreadyLinked),
            None => LinkDecision::Link(intent.user),
        };
    }
    if let Some(owner) = facts.identity_owner {
        return LinkDecision::Login(owner);
    }
    let Some(email) = &facts.email else {
        return LinkDecision::Refuse(LinkRefusal::EmailRequired);
    };
    match facts.email_account {
        Some(account) if !(facts.email_verified && account.email_verified) => {
            LinkDecision::Refuse(LinkRefusal::EmailUnverified)
        }
        Some(account) if account.has_provider => {
            LinkDecision::Refuse(LinkRefusal::ProviderAlreadyLinked)
        }
        Some(account) => LinkDecision::LinkAndLogin(account.user),
        None => LinkDecision::CreateUser(email.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(Provider::parse("Google"), None);
        assert_eq!(Provider::parse("twitter"), None);
        assert_eq!(Provider::parse(""), None);
    }

    #[test]
    fn listing_order_is_the_contract_order() {
        let names: Vec<_> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            ["google", "microsoft", "apple", "facebook", "github", "oidc"]
        );
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).expect("valid instant")
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let random = [7u8; SECRET_BYTES];
        let state = StateToken::generate(random);
        let verifier = PkceVerifier::generate(random);
        let binding = BrowserBinding::generate(random);
        assert_eq!(format!("{state:?}"), "StateToken(<redacted>)");
        assert_eq!(format!("{verifier:?}"), "PkceVerifier(<redacted>)");
        assert_eq!(format!("{binding:?}"), "BrowserBinding(<redacted>)");
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_example() {
        // RFC 7636 appendix B.
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        assert_eq!(
            verifier.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(verifier.as_str().len(), 43);
        assert!(!format!("{verifier:?}").contains("dBjf"));
    }

    #[test]
    fn generated_secrets_are_43_url_safe_characters() {
        let random = [0xa5; SECRET_BYTES];
        let state = StateToken::generate(random);
        assert_eq!(state.as_str().len(), 43);
        assert_eq!(StateToken::parse(state.as_str()), Some(state.clone()));
        assert_eq!(PkceVerifier::generate(random).as_str(), state.as_str());
        assert_eq!(Nonce::generate(random).as_str(), state.as_str());
        assert_eq!(Nonce::new("n".into()).as_str(), "n");
        let binding = BrowserBinding::generate(random);
        assert_eq!(
            BrowserBinding::parse(binding.as_str()),
            Some(binding.clone())
        );
        assert_ne!(binding.digest(), binding.as_str());
        assert_eq!(state.storage_key().len(), 43);
        assert_ne!(state.storage_key(), state.as_str());
        assert!(!format!("{state:?}{binding:?}").contains(state.as_str()));
    }

    #[test]
    fn states_outside_the_alphabet_or_bounds_are_refused() {
        assert!(StateToken::parse(&"a".repeat(STATE_MIN_LEN)).is_some());
        assert!(StateToken::parse(&"a".repeat(STATE_MIN_LEN - 1)).is_none());
        assert!(StateToken::parse(&"a".repeat(STATE_MAX_LEN)).is_some());
        assert!(StateToken::parse(&"a".repeat(STATE_MAX_LEN + 1)).is_none());
        assert!(StateToken::parse("abcdefghijklmnopqrstu.~-_").is_some());
        assert!(StateToken::parse("abcdefghijklmnopqrstuvw+").is_none());
        assert!(StateToken::parse("abcdefghijklmnopqrstuvw=").is_none());
        assert!(StateToken::parse("abcdefghijklmnopqrstuvwé").is_none());
        assert!(BrowserBinding::parse(&"a".repeat(42)).is_none());
        assert!(BrowserBinding::parse(&"a".repeat(44)).is_none());
        assert!(BrowserBinding::parse(&format!("{}.", "a".repeat(42))).is_none());
        assert!(BrowserBinding::parse(&"a".repeat(43)).is_some());
    }

    fn flow(binding: &BrowserBinding) -> OAuthFlow {
        OAuthFlow {
            provider: Provider::Github,
            pkce_verifier: PkceVerifier::generate([1; SECRET_BYTES]),
            nonce: Nonce::generate([2; SECRET_BYTES]),
            link_user: None,
            redirect_to_frontend: true,
            binding_digest: binding.digest(),
            expires_at: at(100),
        }
    }

    #[test]
    fn a_flow_is_accepted_only_for_its_provider_browser_and_lifetime() {
        let mine = BrowserBinding::generate([3; SECRET_BYTES]);
        let theirs = BrowserBinding::generate([4; SECRET_BYTES]);
        let flow = flow(&mine);
        assert_eq!(flow.accept(Provider::Github, Some(&mine), at(99)), Ok(()));
        assert_eq!(
            flow.accept(Provider::Github, Some(&mine), at(100)),
            Err(StateRejection::Expired)
        );
        assert_eq!(
            flow.accept(Provider::Google, Some(&mine), at(99)),
            Err(StateRejection::OtherProvider)
        );
        assert_eq!(
            flow.accept(Provider::Github, Some(&theirs), at(99)),
            Err(StateRejection::OtherBrowser)
        );
        assert_eq!(
            flow.accept(Provider::Github, None, at(99)),
            Err(StateRejection::OtherBrowser)
        );
        assert!(!flow.is_expired(at(99)));
        assert!(flow.is_expired(at(101)));
    }

    fn facts() -> LinkFacts {
        LinkFacts {
            identity_owner: None,
            link_intent: None,
            email: Some(Email::parse("a@example.com").expect("valid")),
            email_verified: true,
            email_account: None,
        }
    }

    fn account(id: i64, has_provider: bool) -> AccountFacts {
        AccountFacts {
            user: UserId::new(id),
            has_provider,
            email_verified: true,
        }
    }

    #[test]
    fn login_flows_follow_the_account_rules() {
        let u = UserId::new;
        assert_eq!(
            decide(&LinkFacts {
                identity_owner: Some(u(1)),
                email: None,
                ..facts()
            }),
            LinkDecision::Login(u(1))
        );
        assert_eq!(
            decide(&facts()),
            LinkDecision::CreateUser(Email::parse("a@example.com").expect("valid"))
        );
        assert_eq!(
            decide(&LinkFacts {
                email: None,
                ..facts()
            }),
            LinkDecision::Refuse(LinkRefusal::EmailRequired)
        );
        assert_eq!(
            decide(&LinkFacts {
                email_account: Some(account(2, false)),
                ..facts()
            }),
            LinkDecision::LinkAndLogin(u(2))
        );
        assert_eq!(
            decide(&LinkFacts {
                email_account: Some(account(2, false)),
                email_verified: false,
                ..facts()
            }),
            LinkDecision::Refuse(LinkRefusal::EmailUnverified)
        );
        assert_eq!(
            decide(&LinkFacts {
                email_account: Some(AccountFacts {
                    email_verified: false,
                    ..account(2, false)
                }),
                ..facts()
            }),
            LinkDecision::Refuse(LinkRefusal::EmailUnverified)
        );
        assert_eq!(
            decide(&LinkFacts {
                email_account: Some(account(2, true)),
                ..facts()
            }),
            LinkDecision::Refuse(LinkRefusal::ProviderAlreadyLinked)
        );
    }

    #[test]
    fn link_flows_follow_the_conflict_rules() {
        let u = UserId::new;
        let link = |owner, has_provider| LinkFacts {
            identity_owner: owner,
            link_intent: Some(account(5, has_provider)),
            email: None,
            email_verified: false,
            email_account: Some(account(9, false)),
        };
        assert_eq!(decide(&link(None, false)), LinkDecision::Link(u(5)));
        assert_eq!(
            decide(&link(Some(u(5)), true)),
            LinkDecision::AlreadyLinked(u(5))
        );
        assert_eq!(
            decide(&link(Some(u(6)), false)),
            LinkDecision::Refuse(LinkRefusal::IdentityAlreadyLinked)
        );
        assert_eq!(
            decide(&link(None, true)),
            LinkDecision::Refuse(LinkRefusal::ProviderAlreadyLinked)
        );
    }

    #[test]
    fn refusals_and_rejections_read_as_sentences() {
        let texts: Vec<String> = [
            StateRejection::Expired,
            StateRejection::OtherProvider,
            StateRejection::OtherBrowser,
        ]
        .iter()
        .map(ToString::to_string)
        .chain(
            [
                LinkRefusal::EmailRequired,
                LinkRefusal::EmailUnverified,
                LinkRefusal::IdentityAlreadyLinked,
                LinkRefusal::ProviderAlreadyLinked,
            ]
            .iter()
            .map(ToString::to_string),
        )
        .collect();
        assert_eq!(
            texts,
            [
                "the state has expired",
                "the state was issued for another provider",
                "the state was started in another browser",
                "the provider did not share an email address",
                "the provider has not verified this email address",
                "this identity is already linked to another account",
                "this account is already linked to another identity of this provider",
            ]
        );
        assert_eq!(format!("{:?}", Nonce::new("n".into())), "Nonce(\"n\")");
    }
}
