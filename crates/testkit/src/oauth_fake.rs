//! Local fake identity providers for OAuth tests (feature `oauth-fake`): one HTTP server on
//! `127.0.0.1:0` that plays a generic OpenID Connect provider and the endpoints of Google,
//! Microsoft, Apple, GitHub and Facebook keel talks to, signing RS256 ID tokens with the
//! committed TEST-ONLY keys of `crates/testkit/fixtures/oauth/` (see its README).
//!
//! | role | routes (paths of the real providers, so `test_base_url` re-bases them) |
//! |---|---|
//! | generic OpenID (issuer = [`FakeProvider::issuer`]) | `/.well-known/openid-configuration`, `/oidc/authorize`, `/oidc/token`, `/oidc/jwks`, `/oidc/userinfo` |
//! | Google | `/o/oauth2/v2/auth`, `/token`, `/oauth2/v3/certs` |
//! | Microsoft | `/common/oauth2/v2.0/authorize`, `/common/oauth2/v2.0/token`, `/common/discovery/v2.0/keys` |
//! | Apple | `/auth/authorize`, `/auth/token` (verifies the ES256 client-secret JWT), `/auth/keys` |
//! | GitHub | `/login/oauth/authorize`, `/login/oauth/access_token`, `/user`, `/user/emails` |
//! | Facebook | `/v19.0/dialog/oauth`, `/v19.0/oauth/access_token`, `/v19.0/me` |
//!
//! The authorize routes (and [`FakeProvider::authorize`], which does the same without HTTP)
//! answer like a provider after the user consented: a redirect to `redirect_uri` with a fresh
//! single-use `code` and the `state` (or `error`/`error_description` with
//! [`Behaviour::AuthorizeError`]). Apple really answers with a `form_post`; the fake redirects
//! with a query instead — post those parameters to the callback to test `form_post`.
//!
//! The token routes check what a real provider checks: the code (known, unused, issued to this
//! client), `redirect_uri` equal to the authorize request's, `code_verifier` whose S256 hash is
//! the `code_challenge`, and the client's credentials ([`CLIENT_ID`] / [`CLIENT_SECRET`] by
//! HTTP Basic or in the form; for Apple a valid client-secret JWT). What the ID token says
//! comes from [`Knobs::identity`]; [`Behaviour`] breaks one thing at a time.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The client id every fake accepts.
pub const CLIENT_ID: &str = "keel-test-client";
/// The client secret every fake accepts (Apple excepted: it wants the client-secret JWT).
pub const CLIENT_SECRET: &str = "keel-test-secret";
/// The Apple team id the fake Apple expects as the client secret's `iss`.
pub const APPLE_TEAM_ID: &str = "KEELTEAM01";
/// The Apple key id the fake Apple expects as the client secret's `kid`.
pub const APPLE_KEY_ID: &str = "KEELKEY001";
/// TEST-ONLY Apple `.p8` key (P-256, PKCS#8 PEM): what `OAUTH_APPLE_CLIENT_SECRET` holds in
/// tests. Public in the repository — never use it anywhere else.
pub const APPLE_PRIVATE_KEY_PEM: &str = include_str!("../fixtures/oauth/test-apple-es256.p8");
/// The public half of [`APPLE_PRIVATE_KEY_PEM`].
const APPLE_PUBLIC_KEY_PEM: &str = include_str!("../fixtures/oauth/test-apple-es256-public.pem");
/// TEST-ONLY RS256 key signing the fakes' ID tokens (its public half is the served JWKS).
const SIGNING_KEY_PEM: &str = include_str!("../fixtures/oauth/test-rsa-signing-key.pem");
/// TEST-ONLY RSA key that is in no JWKS ("badly signed" tokens).
const OTHER_KEY_PEM: &str = include_str!("../fixtures/oauth/test-rsa-other-key.pem");
/// The served JWKS.
const JWKS: &str = include_str!("../fixtures/oauth/test-jwks.json");
/// The served JWKS after [`Knobs::rotated_keys`]: both keys.
const ROTATED_JWKS: &str = include_str!("../fixtures/oauth/test-jwks-rotated.json");
/// The `kid` of the second key once it is published.
pub const ROTATED_KEY_ID: &str = "keel-test-rsa-2";
/// The `kid` of the signing key in the served JWKS.
pub const KEY_ID: &str = "keel-test-rsa-1";
/// The tenant id in the fake Microsoft's tokens.
pub const MICROSOFT_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Google's issuer, as the fake Google signs it.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Apple's issuer, as the fake Apple signs it.
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// The longest client-secret lifetime Apple accepts (six months).
const APPLE_MAX_SECRET_LIFETIME: u64 = 15_777_000;

/// What the person signing in looks like to the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// `sub` (OpenID), the account id (GitHub: must be numeric; Facebook).
    pub subject: String,
    /// The email, if the provider has one.
    pub email: Option<String>,
    /// The `email_verified` claim as sent: `json!(true)`, `json!("false")` (Apple sends
    /// strings), or `Value::Null` to leave it out. For GitHub it is the primary address's
    /// `verified` flag (truthy values only).
    pub email_verified: Value,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            subject: "1001".to_owned(),
            email: Some("person@example.com".to_owned()),
            email_verified: Value::Bool(true),
        }
    }
}

/// One thing to break; [`Behaviour::Normal`] breaks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// A well-behaved provider.
    #[default]
    Normal,
    /// The authorize step redirects with `error=access_denied` and an `error_description`.
    AuthorizeError,
    /// The ID token's `nonce` is not the authorize request's.
    WrongNonce,
    /// The ID token's `aud` is another client.
    WrongAudience,
    /// The ID token's `iss` is another issuer.
    WrongIssuer,
    /// The ID token expired ten minutes ago.
    Expired,
    /// The ID token is signed with a key that is not in the JWKS, under the JWKS's `kid`.
    BadSignature,
    /// The ID token names a `kid` the JWKS does not have (the client refetches, then fails).
    UnknownKey,
    /// The token response has no `id_token`.
    NoIdToken,
    /// The token endpoint refuses the code: 400 `invalid_grant` (GitHub: 200 with the error).
    TokenError,
    /// The token endpoint answers 200 with a body that is not a token response.
    MalformedTokenResponse,
    /// The token endpoint answers 500 with a plain-text body.
    TokenServerError,
    /// The token endpoint answers only after [`Knobs::delay`].
    SlowToken,
    /// Userinfo, GitHub's `/user/emails` and Facebook's `/me` answer 500.
    ProfileError,
}

/// The fake's settings; change them with [`FakeProvider::configure`].
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    /// Who signs in.
    pub identity: Identity,
    /// What to break.
    pub behaviour: Behaviour,
    /// GitHub's `/user/emails` list as `(email, primary, verified)`; `None` → derived from
    /// [`Knobs::identity`] (one primary address, verified when `email_verified` is truthy).
    pub github_emails: Option<Vec<(String, bool, bool)>>,
    /// How long [`Behaviour::SlowToken`] waits (default 5 s when zero).
    pub delay: Duration,
    /// The ID token carries no email; only the userinfo endpoint has it.
    pub email_only_in_userinfo: bool,
    /// Key rotation: the JWKS publishes a second key and ID tokens are signed with it
    /// (`kid` [`ROTATED_KEY_ID`]).
    pub rotated_keys: bool,
}

/// What a token endpoint saw, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenCall {
    /// The route (`/oidc/token`, `/auth/token`, …).
    pub route: String,
    /// `basic` or `post`: how the client authenticated.
    pub client_auth: String,
    /// The problems found (empty when the request was acceptable).
    pub problems: Vec<String>,
    /// The verified claims of Apple's client-secret JWT (Apple route only).
    pub apple_client_secret: Option<Value>,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    used: bool,
}

#[derive(Debug, Default)]
struct State {
    knobs: Knobs,
    grants: HashMap<String, Grant>,
    access_tokens: HashMap<String, Identity>,
    token_calls: Vec<TokenCall>,
    counter: u64,
}

#[derive(Clone)]
struct Shared {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock already failed; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake provider; stopped when dropped (or with [`FakeProvider::stop`]).
pub struct FakeProvider {
    shared: Shared,
    handle: ServerHandle,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("base", &self.shared.base)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        // Stopping needs the future polled; without a runtime the server dies with the test.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let handle = self.handle.clone();
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// An `http://127.0.0.1:{port}` URL where nothing listens (a provider that is down).
///
/// # Panics
/// When no local port can be bound.
#[must_use]
pub fn closed_url() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a local port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

impl FakeProvider {
    /// Starts a fake on `127.0.0.1:0` with default [`Knobs`].
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the fake provider");
        let addr = listener.local_addr().expect("local address");
        let shared = Shared {
            base: format!("http://{addr}"),
            state: Arc::default(),
        };
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(data.clone()))
                .configure(routes)
        })
        .workers(1)
        .disable_signals()
        // One request per connection: no kept-alive connection outlives `stop`, so a stopped
        // fake is down for every client at once.
        .keep_alive(actix_web::http::KeepAlive::Disabled)
        // A loaded CI machine can take seconds to send a request head; the default 5 s answer
        // (408) would look like a provider failure.
        .client_request_timeout(Duration::from_secs(60))
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            shared,
            handle,
            addr,
        }
    }

    /// `http://127.0.0.1:{port}`: the base URL of every route (`test_base_url`).
    #[must_use]
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The generic OpenID provider's issuer (`OAUTH_OIDC_ISSUER_URL`): the base URL.
    #[must_use]
    pub fn issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// Changes the knobs.
    pub fn configure(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.shared.lock().knobs);
    }

    /// Sets who signs in.
    pub fn set_identity(&self, subject: &str, email: Option<&str>, email_verified: Value) {
        self.configure(|knobs| {
            knobs.identity = Identity {
                subject: subject.to_owned(),
                email: email.map(str::to_owned),
                email_verified,
            };
        });
    }

    /// Sets what to break.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.configure(|knobs| knobs.behaviour = behaviour);
    }

    /// What the token endpoints saw so far.
    #[must_use]
    pub fn token_calls(&self) -> Vec<TokenCall> {
        self.shared.lock().token_calls.clone()
    }

    /// Issues a code as if the user consented to an authorize request with these parameters.
    #[must_use]
    pub fn mint_code(
        &self,
        redirect_uri: &str,
        code_challenge: &str,
        nonce: Option<&str>,
    ) -> String {
        let mut state = self.shared.lock();
        mint(&mut state, CLIENT_ID, redirect_uri, code_challenge, nonce)
    }

    /// What a browser following `authorize_url` ends up with: the callback URL
    /// (`redirect_uri?code=…&state=…`, or `?error=…&error_description=…&state=…` with
    /// [`Behaviour::AuthorizeError`]). No HTTP request is made.
    ///
    /// # Panics
    /// When `authorize_url` has no query or no `redirect_uri`.
    #[must_use]
    pub fn authorize(&self, authorize_url: &str) -> String {
        let query = authorize_url
            .split_once('?')
            .map(|(_, query)| query)
            .expect("the authorize URL has a query");
        let params: HashMap<String, String> =
            serde_urlencoded::from_str(query).expect("a form-encoded query");
        authorize_redirect(&self.shared, &params).expect("the authorize URL has a redirect_uri")
    }

    /// Stops the server; once this returns, requests fail to connect.
    ///
    /// # Panics
    /// When the port still accepts connections after 5 s.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
        // The stop command returns before the listener is closed: wait until it is.
        for _ in 0..250 {
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the fake provider at {} still accepts connections",
            self.addr
        );
    }
}

fn mint(
    state: &mut State,
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    nonce: Option<&str>,
) -> String {
    state.counter += 1;
    let code = format!("code-{}-{}", state.counter, now());
    state.grants.insert(
        code.clone(),
        Grant {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: challenge.to_owned(),
            nonce: nonce.map(str::to_owned),
            used: false,
        },
    );
    code
}

fn authorize_redirect(shared: &Shared, params: &HashMap<String, String>) -> Option<String> {
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    let redirect_uri = params.get("redirect_uri")?.clone();
    let mut state = shared.lock();
    let reply: Vec<(&str, String)> = if state.knobs.behaviour == Behaviour::AuthorizeError {
        vec![
            ("error", "access_denied".to_owned()),
            ("error_description", "The user denied access".to_owned()),
            ("state", get("state")),
        ]
    } else {
        let code = mint(
            &mut state,
            &get("client_id"),
            &redirect_uri,
            &get("code_challenge"),
            params.get("nonce").map(String::as_str),
        );
        vec![("code", code), ("state", get("state"))]
    };
    let query = serde_urlencoded::to_string(reply).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Some(format!("{redirect_uri}{separator}{query}"))
}

fn routes(config: &mut web::ServiceConfig) {
    for path in [
        "/oidc/authorize",
        "/o/oauth2/v2/auth",
        "/common/oauth2/v2.0/authorize",
        "/auth/authorize",
        "/login/oauth/authorize",
        "/v19.0/dialog/oauth",
    ] {
        config.route(path, web::get().to(authorize));
    }
    for path in [
        "/oidc/token",
        "/token",
        "/common/oauth2/v2.0/token",
        "/auth/token",
        "/login/oauth/access_token",
        "/v19.0/oauth/access_token",
    ] {
        config.route(path, web::post().to(token));
    }
    for path in [
        "/oidc/jwks",
        "/oauth2/v3/certs",
        "/common/discovery/v2.0/keys",
        "/auth/keys",
    ] {
        config.route(path, web::get().to(jwks));
    }
    config
        .route(
            "/.well-known/openid-configuration",
            web::get().to(discovery),
        )
        .route("/oidc/userinfo", web::get().to(userinfo))
        .route("/user", web::get().to(github_user))
        .route("/user/emails", web::get().to(github_emails))
        .route("/v19.0/me", web::get().to(facebook_me));
}

async fn discovery(shared: web::Data<Shared>) -> HttpResponse {
    let base = &shared.base;
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oidc/authorize"),
        "token_endpoint": format!("{base}/oidc/token"),
        "jwks_uri": format!("{base}/oidc/jwks"),
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    let rotated = shared.lock().knobs.rotated_keys;
    HttpResponse::Ok()
        .content_type("application/json")
        .body(if rotated { ROTATED_JWKS } else { JWKS })
}

async fn authorize(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    match authorize_redirect(&shared, &params) {
        Some(location) => HttpResponse::Found()
            .insert_header(("Location", location))
            .finish(),
        None => HttpResponse::BadRequest().body("redirect_uri is missing"),
    }
}

/// The client's id and secret from HTTP Basic (form-urlencoded parts) or the form.
fn client_credentials(
    request: &HttpRequest,
    form: &HashMap<String, String>,
) -> (String, Option<String>, &'static str) {
    let basic = request
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let Some(pair) = basic
        && let Some((id, secret)) = pair.split_once(':')
    {
        let decode = |part: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={part}"))
                .ok()
                .and_then(|mut parts| parts.pop())
                .map(|(_, value)| value)
                .unwrap_or_default()
        };
        return (decode(id), Some(decode(secret)), "basic");
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned(),
        "post",
    )
}

/// Verifies Apple's client-secret JWT; returns its claims.
fn verify_apple_secret(secret: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(secret).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::ES256 {
        return Err(format!("alg {:?} is not ES256", header.alg));
    }
    if header.kid.as_deref() != Some(APPLE_KEY_ID) {
        return Err(format!("kid {:?} is not {APPLE_KEY_ID}", header.kid));
    }
    let key = DecodingKey::from_ec_pem(APPLE_PUBLIC_KEY_PEM.as_bytes())
        .map_err(|e| format!("test key: {e}"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[APPLE_ISSUER]);
    validation.set_issuer(&[APPLE_TEAM_ID]);
    validation.sub = Some(CLIENT_ID.to_owned());
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(secret, &key, &validation)
        .map_err(|e| format!("client secret: {e}"))?
        .claims;
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    if exp <= iat || exp - iat > APPLE_MAX_SECRET_LIFETIME {
        return Err(format!(
            "lifetime {} s is not within six months",
            exp.saturating_sub(iat)
        ));
    }
    Ok(claims)
}

fn oauth_error(route: &str, code: &str, description: &str) -> HttpResponse {
    match route {
        // GitHub answers 200 with the error in the body.
        "/login/oauth/access_token" => {
            HttpResponse::Ok().json(json!({"error": code, "error_description": description}))
        }
        // The Graph API's error object.
        "/v19.0/oauth/access_token" => HttpResponse::BadRequest().json(json!({
            "error": {"message": description, "type": "OAuthException", "code": 100}
        })),
        _ => HttpResponse::BadRequest()
            .json(json!({"error": code, "error_description": description})),
    }
}

async fn token(
    shared: web::Data<Shared>,
    request: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let route = request.path().to_owned();
    let form = form.into_inner();
    let (client_id, secret, client_auth) = client_credentials(&request, &form);
    let (knobs, grant) = {
        let mut state = shared.lock();
        let code = form.get("code").cloned().unwrap_or_default();
        let grant = state.grants.get_mut(&code).map(|grant| {
            let before = grant.clone();
            grant.used = true;
            before
        });
        (state.knobs.clone(), grant)
    };
    let mut problems = Vec::new();
    let mut apple_client_secret = None;
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        problems.push("grant_type is not authorization_code".to_owned());
    }
    if client_id != CLIENT_ID {
        problems.push(format!("unknown client {client_id:?}"));
    }
    if route == "/auth/token" {
        match secret.as_deref().map(verify_apple_secret) {
            Some(Ok(claims)) => apple_client_secret = Some(claims),
            Some(Err(problem)) => problems.push(problem),
            None => problems.push("no client secret".to_owned()),
        }
    } else if secret.as_deref() != Some(CLIENT_SECRET) {
        problems.push("wrong client secret".to_owned());
    }
    let nonce = match &grant {
        None => {
            problems.push("unknown code".to_owned());
            None
        }
        Some(grant) => {
            if grant.used {
                problems.push("code already used".to_owned());
            }
            if grant.client_id != client_id {
                problems.push("code issued to another client".to_owned());
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                problems.push("redirect_uri differs from the authorize request's".to_owned());
            }
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.is_empty() || challenge != grant.challenge {
                problems.push("code_verifier does not match the S256 code_challenge".to_owned());
            }
            grant.nonce.clone()
        }
    };
    shared.lock().token_calls.push(TokenCall {
        route: route.clone(),
        client_auth: client_auth.to_owned(),
        problems: problems.clone(),
        apple_client_secret,
    });
    match knobs.behaviour {
        Behaviour::SlowToken => {
            let delay = if knobs.delay.is_zero() {
                Duration::from_secs(5)
            } else {
                knobs.delay
            };
            tokio::time::sleep(delay).await;
        }
        Behaviour::TokenError => {
            return oauth_error(&route, "invalid_grant", "The code is invalid or expired");
        }
        Behaviour::MalformedTokenResponse => {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"this is\": \"not a token response\"");
        }
        Behaviour::TokenServerError => {
            return HttpResponse::InternalServerError().body("upstream exploded");
        }
        _ => {}
    }
    if !problems.is_empty() {
        let code = if problems.iter().any(|p| p.contains("client")) {
            "invalid_client"
        } else {
            "invalid_grant"
        };
        return oauth_error(&route, code, &problems.join("; "));
    }
    let access_token = {
        let mut state = shared.lock();
        state.counter += 1;
        let token = format!("access-{}", state.counter);
        state
            .access_tokens
            .insert(token.clone(), knobs.identity.clone());
        token
    };
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
    });
    let issuer = match route.as_str() {
        "/oidc/token" => Some(shared.base.clone()),
        "/token" => Some(GOOGLE_ISSUER.to_owned()),
        "/common/oauth2/v2.0/token" => Some(format!(
            "https://login.microsoftonline.com/{MICROSOFT_TENANT}/v2.0"
        )),
        "/auth/token" => Some(APPLE_ISSUER.to_owned()),
        _ => None,
    };
    if let Some(issuer) = issuer
        && knobs.behaviour != Behaviour::NoIdToken
    {
        let microsoft = route.starts_with("/common/");
        body["id_token"] = Value::String(id_token(&knobs, &issuer, nonce, microsoft));
    }
    HttpResponse::Ok().json(body)
}

fn id_token(knobs: &Knobs, issuer: &str, nonce: Option<String>, microsoft: bool) -> String {
    let now = now();
    let behaviour = knobs.behaviour;
    let (iat, exp) = if behaviour == Behaviour::Expired {
        (now - 1200, now - 600)
    } else {
        (now, now + 600)
    };
    let mut claims = json!({
        "iss": if behaviour == Behaviour::WrongIssuer { "https://evil.example.com" } else { issuer },
        "sub": knobs.identity.subject,
        "aud": if behaviour == Behaviour::WrongAudience { "another-client" } else { CLIENT_ID },
        "iat": iat,
        "exp": exp,
    });
    let nonce = if behaviour == Behaviour::WrongNonce {
        Some("not-the-nonce".to_owned())
    } else {
        nonce
    };
    if let Some(nonce) = nonce {
        claims["nonce"] = Value::String(nonce);
    }
    if !knobs.email_only_in_userinfo
        && let Some(email) = &knobs.identity.email
    {
        claims["email"] = Value::String(email.clone());
        if !knobs.identity.email_verified.is_null() {
            claims["email_verified"] = knobs.identity.email_verified.clone();
        }
    }
    if microsoft {
        claims["tid"] = Value::String(MICROSOFT_TENANT.to_owned());
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(if behaviour == Behaviour::UnknownKey {
        "rotated-away".to_owned()
    } else if knobs.rotated_keys {
        ROTATED_KEY_ID.to_owned()
    } else {
        KEY_ID.to_owned()
    });
    let pem = if knobs.rotated_keys
        || matches!(behaviour, Behaviour::BadSignature | Behaviour::UnknownKey)
    {
        OTHER_KEY_PEM
    } else {
        SIGNING_KEY_PEM
    };
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("the committed test RSA key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signing a test ID token")
}

/// The identity behind a bearer access token.
fn bearer(shared: &Shared, request: &HttpRequest) -> Option<(Identity, Behaviour)> {
    let token = request
        .headers()
        .get("Authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_owned();
    let state = shared.lock();
    let identity = state.access_tokens.get(&token)?.clone();
    Some((identity, state.knobs.behaviour))
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"error": "invalid_token"}))
}

async fn userinfo(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let Some((identity, behaviour)) = bearer(&shared, &request) else {
        return unauthorized();
    };
    if behaviour == Behaviour::ProfileError {
        return HttpResponse::InternalServerError().body("userinfo exploded");
    }
    let mut body = json!({"sub": identity.subject});
    if let Some(email) = identity.email {
        body["email"] = Value::String(email);
        if !identity.email_verified.is_null() {
            body["email_verified"] = identity.email_verified;
        }
    }
    HttpResponse::Ok().json(body)
}

async fn github_user(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let Some((identity, _)) = bearer(&shared, &request) else {
        return unauthorized();
    };
    let id: u64 = identity.subject.parse().unwrap_or_default();
    HttpResponse::Ok().json(json!({"id": id, "login": format!("user{id}")}))
}

fn truthy(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

async fn github_emails(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let Some((identity, behaviour)) = bearer(&shared, &request) else {
        return unauthorized();
    };
    if behaviour == Behaviour::ProfileError {
        return HttpResponse::InternalServerError().body("emails exploded");
    }
    let configured = shared.lock().knobs.github_emails.clone();
    let emails = configured.unwrap_or_else(|| {
        identity
            .email
            .iter()
            .map(|email| (email.clone(), true, truthy(&identity.email_verified)))
            .collect()
    });
    let body: Vec<Value> = emails
        .into_iter()
        .map(|(email, primary, verified)| {
            json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
        })
        .collect();
    HttpResponse::Ok().json(body)
}

async fn facebook_me(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let Some((identity, behaviour)) = bearer(&shared, &request) else {
        return unauthorized();
    };
    if behaviour == Behaviour::ProfileError {
        return HttpResponse::InternalServerError().body("graph exploded");
    }
    let fields: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let mut body = json!({"id": identity.subject});
    let wants_email = fields
        .get("fields")
        .is_some_and(|fields| fields.split(',').any(|field| field == "email"));
    if wants_email && let Some(email) = identity.email {
        body["email"] = Value::String(email);
    }
    HttpResponse::Ok().json(body)
}
