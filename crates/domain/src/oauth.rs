//! OAuth and OpenID Connect sign-in: which providers exist, what a provider vouches for about a
//! person (an [`ExternalIdentity`]), and — as they are added — the pure rules of the flow
//! (state tokens, account linking decisions).

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
        assert_eq!(names, ["google", "microsoft", "apple", "facebook", "github", "oidc"]);
    }
}
