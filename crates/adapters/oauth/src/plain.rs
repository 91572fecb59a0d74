//! The plain OAuth 2.0 providers (no ID token): GitHub and Facebook. The identity comes from
//! their APIs, called with the access token right after the exchange.
//!
//! - GitHub: `GET /user` gives the numeric account id (the subject; issuer
//!   `https://github.com`); `GET /user/emails` lists the addresses: keel takes the *primary*
//!   one, verified only when GitHub says `verified: true`. No primary address → no email.
//! - Facebook: `GET /me?fields=id,email` (issuer `https://www.facebook.com`). The Graph API
//!   returns an `email` only when the address is confirmed on the account (an unconfirmed one
//!   is never returned), so a present email counts as verified and an absent one as none.

use crate::http::{Answer, Http, HttpError};
use crate::token::{ClientAuth, exchange_code};
use async_trait::async_trait;
use keel_domain::oauth::{ExternalIdentity, Provider};
use keel_ports::{AuthorizeRequest, CodeExchange, IdentityProvider, ProviderError};
use openidconnect::url::Url;
use serde::Deserialize;

/// GitHub's issuer identifier for stored identities.
pub const GITHUB_ISSUER: &str = "https://github.com";
/// Facebook's issuer identifier for stored identities.
pub const FACEBOOK_ISSUER: &str = "https://www.facebook.com";

/// Where the profile comes from.
#[derive(Debug, Clone)]
pub(crate) enum Profile {
    /// GitHub's REST API base (`https://api.github.com`).
    Github { api: Url },
    /// Facebook's Graph `/me` endpoint.
    Facebook { me: Url },
}

/// A plain OAuth 2.0 provider.
#[derive(Debug)]
pub(crate) struct PlainProvider {
    pub(crate) provider: Provider,
    pub(crate) display_name: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) scopes: &'static str,
    pub(crate) authorize: Url,
    pub(crate) token: Url,
    pub(crate) profile: Profile,
    pub(crate) http: Http,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct FacebookMe {
    id: String,
    #[serde(default)]
    email: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(answer: &Answer, what: &str) -> Result<T, ProviderError> {
    if !answer.is_success() {
        return Err(ProviderError::ProfileFetchFailed(format!(
            "{what} answered {}",
            answer.status
        )));
    }
    serde_json::from_slice(&answer.body).map_err(|error| {
        ProviderError::ProfileFetchFailed(format!("{what} answered something unusable: {error}"))
    })
}

/// The primary address and whether it is verified (`None` when there is no primary one).
fn primary_email(emails: Vec<GithubEmail>) -> (Option<String>, bool) {
    emails
        .into_iter()
        .find(|entry| entry.primary && !entry.email.is_empty())
        .map_or((None, false), |entry| (Some(entry.email), entry.verified))
}

impl PlainProvider {
    async fn github(
        &self,
        api: &Url,
        access_token: &str,
    ) -> Result<ExternalIdentity, ProviderError> {
        let get = |path: &str| -> Result<reqwest::RequestBuilder, ProviderError> {
            let url = join(api, path)?;
            Ok(self
                .http
                .get(url)
                .bearer_auth(access_token)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"))
        };
        let user = self
            .http
            .send(get("user")?)
            .await
            .map_err(HttpError::unreachable)?;
        let user: GithubUser = parse(&user, "GitHub /user")?;
        let emails = self
            .http
            .send(get("user/emails")?)
            .await
            .map_err(HttpError::unreachable)?;
        let (email, email_verified) = primary_email(parse(&emails, "GitHub /user/emails")?);
        Ok(ExternalIdentity {
            issuer: GITHUB_ISSUER.to_owned(),
            subject: user.id.to_string(),
            email,
            email_verified,
        })
    }

    async fn facebook(
        &self,
        me: &Url,
        access_token: &str,
    ) -> Result<ExternalIdentity, ProviderError> {
        let mut url = me.clone();
        url.query_pairs_mut().append_pair("fields", "id,email");
        let answer = self
            .http
            .send(self.http.get(url).bearer_auth(access_token))
            .await
            .map_err(HttpError::unreachable)?;
        let me: FacebookMe = parse(&answer, "Facebook /me")?;
        if me.id.is_empty() {
            return Err(ProviderError::ProfileFetchFailed(
                "Facebook /me has an empty id".to_owned(),
            ));
        }
        let email = me.email.filter(|email| !email.is_empty());
        Ok(ExternalIdentity {
            issuer: FACEBOOK_ISSUER.to_owned(),
            subject: me.id,
            email_verified: email.is_some(),
            email,
        })
    }
}

/// `base` + `path` (the base may or may not end with `/`).
fn join(base: &Url, path: &str) -> Result<Url, ProviderError> {
    let text = format!("{}/{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&text).map_err(|error| {
        ProviderError::ProfileFetchFailed(format!("bad profile URL {text}: {error}"))
    })
}

#[async_trait]
impl IdentityProvider for PlainProvider {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn display_name(&self) -> String {
        self.display_name.clone()
    }

    async fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, ProviderError> {
        let mut url = self.authorize.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("scope", self.scopes)
            .append_pair("state", &request.state)
            .append_pair("code_challenge", &request.pkce_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn exchange(&self, exchange: &CodeExchange) -> Result<ExternalIdentity, ProviderError> {
        let tokens = exchange_code(
            &self.http,
            &self.token,
            &self.client_id,
            &self.client_secret,
            ClientAuth::Post,
            exchange,
        )
        .await?;
        match &self.profile {
            Profile::Github { api } => self.github(api, &tokens.access_token).await,
            Profile::Facebook { me } => self.facebook(me, &tokens.access_token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(email: &str, primary: bool, verified: bool) -> GithubEmail {
        GithubEmail {
            email: email.to_owned(),
            primary,
            verified,
        }
    }

    #[test]
    fn the_primary_address_is_chosen_and_verified_only_when_github_says_so() {
        assert_eq!(
            primary_email(vec![
                entry("other@example.com", false, true),
                entry("main@example.com", true, true),
            ]),
            (Some("main@example.com".to_owned()), true)
        );
        assert_eq!(
            primary_email(vec![
                entry("other@example.com", false, true),
                entry("main@example.com", true, false),
            ]),
            (Some("main@example.com".to_owned()), false)
        );
        assert_eq!(
            primary_email(vec![entry("other@example.com", false, true)]),
            (None, false)
        );
        assert_eq!(primary_email(Vec::new()), (None, false));
    }
}
