//! The authorization-code exchange at a token endpoint (RFC 6749 §4.1.3 with PKCE, RFC 7636)
//! and the classification of its answer into [`ProviderError`]s.

use crate::http::{Answer, Http};
use keel_ports::{CodeExchange, ProviderError};
use openidconnect::url::Url;
use serde::Deserialize;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// HTTP Basic with the form-urlencoded id and secret (`client_secret_basic`).
    Basic,
}

/// The parts of a successful token response keel uses.
#[derive(Debug, Deserialize)]
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

/// Exchanges the code (with its PKCE verifier) for tokens.
///
/// Transport failures and timeouts, and 5xx answers without an OAuth error, are
/// [`ProviderError::Unreachable`]; an OAuth error object — whatever the status, since GitHub
/// answers 200 with `{"error": …}` — or another non-2xx answer is
/// [`ProviderError::ExchangeFailed`]; a 2xx answer that is not a token response is
/// [`ProviderError::InvalidTokenResponse`].
pub(crate) async fn exchange_code(
    http: &Http,
    url: &Url,
    client_id: &str,
    client_secret: &str,
    auth: ClientAuth,
    exchange: &CodeExchange,
) -> Result<Tokens, ProviderError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", exchange.code.as_str()),
        ("redirect_uri", exchange.redirect_uri.as_str()),
        ("code_verifier", exchange.pkce_verifier.as_str()),
    ];
    let mut request = http
        .post(url.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    match auth {
        ClientAuth::Post => {
            form.push(("client_id", client_id));
            form.push(("client_secret", client_secret));
        }
        ClientAuth::Basic => {
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            let id = form_encode(client_id);
            let secret = form_encode(client_secret);
            request = request.basic_auth(id, Some(secret));
        }
    }
    let answer = http
        .send(request.form(&form))
        .await
        .map_err(crate::http::HttpError::unreachable)?;
    classify(&answer)
}

fn form_encode(text: &str) -> String {
    openidconnect::url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Turns a token endpoint's answer into tokens or the matching error.
pub(crate) fn classify(answer: &Answer) -> Result<Tokens, ProviderError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
    if let Some(message) = json.as_ref().and_then(oauth_error) {
        return Err(ProviderError::ExchangeFailed(message));
    }
    if answer.status >= 500 {
        return Err(ProviderError::Unreachable(
            format!(
                "the token endpoint answered {}: {}",
                answer.status,
                answer.snippet()
            )
            .into(),
        ));
    }
    if !answer.is_success() {
        return Err(ProviderError::ExchangeFailed(format!(
            "the token endpoint answered {}",
            answer.status
        )));
    }
    let tokens: Tokens = json
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(|| {
            ProviderError::InvalidTokenResponse(format!(
                "the token response is not a JSON object with an access_token: {}",
                answer.snippet()
            ))
        })?;
    if tokens.access_token.is_empty() {
        return Err(ProviderError::InvalidTokenResponse(
            "the token response has an empty access_token".to_owned(),
        ));
    }
    Ok(tokens)
}

/// The text of an OAuth error object: RFC 6749 `{"error", "error_description"}` or the Graph
/// API's `{"error": {"message", …}}`.
fn oauth_error(json: &serde_json::Value) -> Option<String> {
    match json.get("error")? {
        serde_json::Value::String(code) => {
            let description = json
                .get("error_description")
                .and_then(serde_json::Value::as_str)
                .filter(|text| !text.is_empty());
            Some(match description {
                Some(text) => format!("{code}: {text}"),
                None => code.clone(),
            })
        }
        serde_json::Value::Object(object) => Some(
            object
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("the provider returned an error")
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: Some("application/json".to_owned()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_oauth_error_is_an_exchange_failure_whatever_the_status() {
        for status in [200, 400, 401] {
            let result = classify(&answer(
                status,
                r#"{"error":"invalid_grant","error_description":"bad code"}"#,
            ));
            assert!(
                matches!(&result, Err(ProviderError::ExchangeFailed(m)) if m == "invalid_grant: bad code"),
                "{status}: {result:?}"
            );
        }
        let graph = classify(&answer(
            400,
            r#"{"error":{"message":"Invalid code","code":100}}"#,
        ));
        assert!(matches!(graph, Err(ProviderError::ExchangeFailed(m)) if m == "Invalid code"));
    }

    #[test]
    fn server_errors_unparsable_and_incomplete_answers_are_classified() {
        assert!(matches!(
            classify(&answer(503, "down")),
            Err(ProviderError::Unreachable(_))
        ));
        assert!(matches!(
            classify(&answer(403, "<html>")),
            Err(ProviderError::ExchangeFailed(_))
        ));
        for body in ["not json", "{}", r#"{"access_token":""}"#, "[]"] {
            assert!(
                matches!(
                    classify(&answer(200, body)),
                    Err(ProviderError::InvalidTokenResponse(_))
                ),
                "{body}"
            );
        }
        let tokens = classify(&answer(200, r#"{"access_token":"at","id_token":"x.y.z"}"#))
            .expect("a token response");
        assert_eq!(tokens.access_token, "at");
        assert_eq!(tokens.id_token.as_deref(), Some("x.y.z"));
    }
}
