//! OAuth / OpenID Connect through HTTP, against a fake OpenID provider started inside each test
//! (`keel_testkit::oauth_fake`: discovery, JWKS, authorize, token and userinfo, RS256 ID
//! tokens): sign-in, account rules, explicit linking, state abuse, ID-token failures, provider
//! errors and outages, frontend redirects, the `form_post` callback, and both flow stores.

use crate::posts::outbox;
use crate::{assert_problem, on_every_backend};
use keel_testkit::app::{TestApp, TestResponse};
use keel_testkit::db::TestDb;
use keel_testkit::oauth_fake::{Behaviour, CLIENT_ID, CLIENT_SECRET, FakeProvider};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::collections::HashMap;

on_every_backend!(sign_in_creates_the_user_once_and_reuses_it,);

const FRONTEND: &str = "http://localhost:3000/oauth/done";
const START: &str = "/api/v1/auth/oauth/oidc/start";

async fn oauth_app(db: TestDb, fake: &FakeProvider, extra: &[(&str, &str)]) -> TestApp {
    let issuer = fake.issuer();
    let mut env = vec![
        ("OAUTH_OIDC_ISSUER_URL", issuer.as_str()),
        ("OAUTH_OIDC_CLIENT_ID", CLIENT_ID),
        ("OAUTH_OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ("OAUTH_FRONTEND_CALLBACK_URL", FRONTEND),
        ("OAUTH_HTTP_TIMEOUT_SECONDS", "2"),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn_with(db, &env).await
}

/// A browser's side of a flow: the binding cookie and where the provider sends it back.
struct Flow {
    cookie: String,
    authorize_url: String,
}

fn binding_of(res: &TestResponse) -> String {
    let set_cookie = res
        .header("set-cookie")
        .expect("start sets the binding cookie");
    set_cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .to_owned()
}

/// `GET …/oidc/start?{query}` with the browser's cookie, if it has one.
async fn start(app: &TestApp, query: &str, cookie: Option<&str>) -> Flow {
    let mut request = app.client.get(format!("{}{START}?{query}", app.base_url));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let res = TestApp::read(request).await;
    assert_eq!(res.status, 307, "start: {}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    Flow {
        cookie: binding_of(&res),
        authorize_url: res.header("location").expect("a Location").to_owned(),
    }
}

/// The browser arriving at the callback URL `url` with `cookie`.
async fn arrive(app: &TestApp, url: &str, cookie: Option<&str>) -> TestResponse {
    let mut request = app.client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    TestApp::read(request).await
}

/// A whole sign-in: start (JSON answer), consent at the fake, callback.
async fn sign_in(app: &TestApp, fake: &FakeProvider) -> TestResponse {
    let flow = start(app, "redirect_to_frontend=false", None).await;
    arrive(
        app,
        &fake.authorize(&flow.authorize_url),
        Some(&flow.cookie),
    )
    .await
}

fn query_of(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    serde_urlencoded::from_str(query).expect("a query")
}

fn fragment_of(location: &str) -> HashMap<String, String> {
    let (base, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(
        base, FRONTEND,
        "frontend redirects go only to the configured URL"
    );
    serde_urlencoded::from_str(fragment).expect("a form-encoded fragment")
}

async fn me(app: &TestApp, token: &Value) -> Value {
    let res = app
        .get("/api/v1/users/me", token["access_token"].as_str())
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

async fn sign_in_creates_the_user_once_and_reuses_it(db: TestDb) {
    let fake = FakeProvider::start().await;
    fake.set_identity("sub-new", Some("New.Person@Example.com"), json!(true));
    let app = oauth_app(db, &fake, &[]).await;

    let providers = app.get("/api/v1/auth/oauth/providers", None).await;
    assert_eq!(providers.status, 200);
    assert_eq!(
        providers.body,
        json!({ "providers": [{
            "provider": "oidc",
            "display_name": "OpenID Connect",
            "start_url": "/api/v1/auth/oauth/oidc/start",
            "link_start_url": "/api/v1/auth/oauth/oidc/link/start",
        }] })
    );

    let flow = start(&app, "redirect_to_frontend=false", None).await;
    // The authorize redirect (docs/contract.md): PKCE S256, nonce, the callback on this origin.
    assert!(flow.authorize_url.starts_with(&fake.issuer()));
    let params = query_of(&flow.authorize_url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(
        params["redirect_uri"],
        format!("{}/api/v1/auth/oauth/oidc/callback", app.base_url)
    );
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
    assert!(!params["nonce"].is_empty());
    let state = &params["state"];
    assert!(state.len() >= 22);
    assert!(
        state
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
    );
    assert!(flow.cookie.starts_with("keel_oauth_binding="));

    let res = arrive(
        &app,
        &fake.authorize(&flow.authorize_url),
        Some(&flow.cookie),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let keys: Vec<&String> = res.body.as_object().expect("Token").keys().collect();
    assert_eq!(keys, ["access_token", "refresh_token", "token_type"]);
    let first = me(&app, &res.body).await;
    assert_eq!(first["email"], "new.person@example.com");
    assert_eq!(
        first["email_verified"], true,
        "the provider verified the email of the account it created"
    );
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": res.body["refresh_token"] }),
        )
        .await;
    assert_eq!(
        refreshed.status, 200,
        "an OAuth session is a normal session"
    );

    // Second sign-in: the same user, no new account, no second event.
    let again = sign_in(&app, &fake).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(me(&app, &again.body).await["id"], first["id"]);
    let created: Vec<Value> = outbox(&app)
        .await
        .into_iter()
        .filter(|(topic, _)| topic == "user.created")
        .map(|(_, payload)| payload)
        .collect();
    assert_eq!(
        created,
        [json!({ "user_id": first["id"], "email": "new.person@example.com" })]
    );
    // No password: the password login refuses the account.
    let res = TestApp::read(
        app.client
            .post(format!("{}/api/v1/login", app.base_url))
            .form(&[("username", "new.person@example.com"), ("password", "")]),
    )
    .await;
    assert_ne!(res.status, 200);
}

/// Sets `users.email_verified` of `email`, as a verification token would.
async fn mark_verified(app: &TestApp, email: &str) {
    app.db
        .connection()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            app.db.backend(),
            match app.db.backend() {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE users SET email_verified = TRUE WHERE email = $1"
                }
                _ => "UPDATE users SET email_verified = 1 WHERE email = ?",
            },
            [email.into()],
        ))
        .await
        .expect("mark the email verified");
}

/// `POST …/link/start` as `token`; returns the flow.
async fn link_start(app: &TestApp, token: &str, query: &str) -> Flow {
    let request = app
        .client
        .post(format!(
            "{}/api/v1/auth/oauth/oidc/link/start?{query}",
            app.base_url
        ))
        .bearer_auth(token);
    let res = TestApp::read(request).await;
    assert_eq!(res.status, 200, "link/start: {}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    Flow {
        cookie: binding_of(&res),
        authorize_url: res.body["authorization_url"]
            .as_str()
            .expect("authorization_url")
            .to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_the_binding_cookie_follow_the_contract() {
    let fake = FakeProvider::start().await;
    let app = oauth_app(TestDb::sqlite().await, &fake, &[]).await;
    let res = TestApp::read(app.client.get(format!("{}{START}", app.base_url))).await;
    assert_eq!(res.status, 307);
    let cookie = res.header("set-cookie").expect("Set-Cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Path=/api"), "{cookie}");
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "host-only: {cookie}"
    );
    assert!(
        !attributes.contains(&"Secure"),
        "plain HTTP: no Secure: {cookie}"
    );

    for (path, status, code, detail) in [
        (
            "twitter/start",
            404,
            "oauth_provider_unsupported",
            "Unsupported OAuth provider: twitter",
        ),
        (
            "google/start",
            404,
            "oauth_provider_not_configured",
            "OAuth provider 'google' is not configured",
        ),
        (
            "oidc/start?redirect_to_frontend=maybe",
            422,
            "validation_error",
            "Request validation failed",
        ),
    ] {
        let res = app.get(&format!("/api/v1/auth/oauth/{path}"), None).await;
        assert_problem(&res, status, code);
        assert_eq!(res.body["detail"], detail);
    }
    let user = app.user("dora").await;
    let res = app
        .post(
            "/api/v1/auth/oauth/github/link/start",
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_problem(&res, 404, "oauth_provider_not_configured");
    // Alias path answers too.
    let res = TestApp::read(
        app.client
            .get(format!("{}/api/auth/oauth/oidc/start", app.base_url)),
    )
    .await;
    assert_eq!(res.status, 307);

    // Over HTTPS (a trusted proxy says so) the cookie is Secure and the callback is https.
    let proxied = oauth_app(
        TestDb::sqlite().await,
        &fake,
        &[("TRUST_PROXY_HEADERS", "true")],
    )
    .await;
    let request = proxied
        .client
        .get(format!("{}{START}", proxied.base_url))
        .header("x-forwarded-proto", "https");
    let res = TestApp::read(request).await;
    assert_eq!(res.status, 307);
    let cookie = res.header("set-cookie").expect("Set-Cookie");
    assert!(cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
    let location = res.header("location").expect("Location");
    assert!(
        query_of(location)["redirect_uri"].starts_with("https://127.0.0.1:"),
        "{location}"
    );
    // Behind a proxy the public origin is configured.
    let public = oauth_app(
        TestDb::sqlite().await,
        &fake,
        &[("OAUTH_PUBLIC_BASE_URL", "https://api.example.com/")],
    )
    .await;
    let res = TestApp::read(public.client.get(format!("{}{START}", public.base_url))).await;
    assert_eq!(
        query_of(res.header("location").expect("Location"))["redirect_uri"],
        "https://api.example.com/api/v1/auth/oauth/oidc/callback"
    );

    // Without providers the list is empty.
    let bare = TestApp::spawn(TestDb::sqlite().await).await;
    let res = bare.get("/api/v1/auth/oauth/providers", None).await;
    assert_eq!(res.body, json!({ "providers": [] }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_and_outages_map_to_their_codes() {
    let fake = FakeProvider::start().await;
    let app = oauth_app(TestDb::sqlite().await, &fake, &[]).await;

    // The user refuses consent: JSON 400, or the frontend fragment with exactly provider+error.
    fake.set_behaviour(Behaviour::AuthorizeError);
    let res = sign_in(&app, &fake).await;
    assert_problem(&res, 400, "oauth_provider_error");
    assert_eq!(res.body["detail"], "The user denied access");
    let flow = start(&app, "", None).await;
    let res = arrive(
        &app,
        &fake.authorize(&flow.authorize_url),
        Some(&flow.cookie),
    )
    .await;
    assert_eq!(res.status, 302, "{}", res.text);
    assert_eq!(
        fragment_of(res.header("location").expect("Location")),
        HashMap::from([
            ("provider".to_owned(), "oidc".to_owned()),
            ("error".to_owned(), "The user denied access".to_owned()),
        ])
    );

    // The token endpoint refuses the code.
    fake.set_behaviour(Behaviour::TokenError);
    assert_problem(&sign_in(&app, &fake).await, 400, "oauth_exchange_failed");

    // No code at all.
    fake.set_behaviour(Behaviour::Normal);
    let flow = start(&app, "redirect_to_frontend=false", None).await;
    let callback = fake.authorize(&flow.authorize_url);
    let state = query_of(&callback)["state"].clone();
    let url = format!(
        "{}/api/v1/auth/oauth/oidc/callback?state={state}",
        app.base_url
    );
    let res = arrive(&app, &url, Some(&flow.cookie)).await;
    assert_problem(&res, 400, "oauth_code_missing");
    assert_eq!(res.body["detail"], "OAuth callback is missing code");

    // The provider goes down between start and callback.
    let flow = start(&app, "redirect_to_frontend=false", None).await;
    let callback = fake.authorize(&flow.authorize_url);
    fake.stop().await;
    let res = arrive(&app, &callback, Some(&flow.cookie)).await;
    assert_problem(&res, 502, "oauth_provider_unreachable");

    // Down from the start: discovery fails.
    let down = FakeProvider::start().await;
    down.stop().await;
    let app = oauth_app(TestDb::sqlite().await, &down, &[]).await;
    let res = app.get(START, None).await;
    assert_problem(&res, 502, "oauth_provider_unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_redirects_carry_the_tokens_in_the_fragment() {
    let fake = FakeProvider::start().await;
    let app = oauth_app(TestDb::sqlite().await, &fake, &[]).await;
    let flow = start(&app, "redirect_to_frontend=true", None).await;
    let res = arrive(
        &app,
        &fake.authorize(&flow.authorize_url),
        Some(&flow.cookie),
    )
    .await;
    assert_eq!(res.status, 302, "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let location = res.header("location").expect("Location");
    let fragment = fragment_of(location);
    let mut keys: Vec<&str> = fragment.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access_token", "provider", "refresh_token", "token_type"]
    );
    assert_eq!(fragment["provider"], "oidc");
    assert_eq!(fragment["token_type"], "bearer");
    assert!(
        location.starts_with(&format!("{FRONTEND}#provider=oidc&access_token=")),
        "{location}"
    );
    let tokens = json!({ "access_token": fragment["access_token"] });
    assert_eq!(me(&app, &tokens).await["email"], "person@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_callbacks_work_and_continue_as_get_without_the_cookie() {
    let fake = FakeProvider::start().await;
    let app = oauth_app(TestDb::sqlite().await, &fake, &[]).await;
    let flow = start(&app, "redirect_to_frontend=false", None).await;
    let callback = fake.authorize(&flow.authorize_url);
    let (path, query) = callback.split_once('?').expect("a query");
    let form: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("form");

    // A cross-site form_post arrives without the SameSite=Lax cookie: 303 to the GET.
    let res = TestApp::read(app.client.post(path).form(&form)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    let location = res.header("location").expect("Location");
    assert!(
        location.starts_with("/api/v1/auth/oauth/oidc/callback?"),
        "{location}"
    );
    assert_eq!(query_of(location), query_of(&callback));
    // The browser follows it with its cookie.
    let res = arrive(
        &app,
        &format!("{}{location}", app.base_url),
        Some(&flow.cookie),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);

    // A same-site form_post carries the cookie and completes directly.
    let flow = start(&app, "redirect_to_frontend=false", None).await;
    let callback = fake.authorize(&flow.authorize_url);
    let (path, query) = callback.split_once('?').expect("a query");
    let form: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("form");
    let request = app
        .client
        .post(path)
        .header("cookie", &flow.cookie)
        .form(&form);
    let res = TestApp::read(request).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["token_type"], "bearer");

    // A POST without state is still the missing-state problem.
    let res = TestApp::read(app.client.post(path).form(&[("code", "x")])).await;
    assert_problem(&res, 400, "invalid_oauth_state");
}

/// A whole explicit link as `token`: link/start with `query`, consent at the fake, callback.
async fn link(app: &TestApp, fake: &FakeProvider, token: &str, query: &str) -> TestResponse {
    let flow = link_start(app, token, query).await;
    arrive(
        app,
        &fake.authorize(&flow.authorize_url),
        Some(&flow.cookie),
    )
    .await
}

/// Needs Redis (`TEST_REDIS_URL`); left out, counted as skipped, when it is not configured.
mod redis {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flows_live_in_redis_when_it_is_configured() {
        let redis = keel_testkit::services::redis_url();
        let fake = FakeProvider::start().await;
        let app = oauth_app(
            TestDb::sqlite().await,
            &fake,
            &[
                ("REDIS_URL", redis.as_str()),
                (
                    "RATE_LIMIT_KEY_PREFIX",
                    &format!("test-oauth-{}:", uuid::Uuid::new_v4()),
                ),
            ],
        )
        .await;
        let flow = start(&app, "redirect_to_frontend=false", None).await;
        let callback = fake.authorize(&flow.authorize_url);
        let res = arrive(&app, &callback, Some(&flow.cookie)).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let replay = arrive(&app, &callback, Some(&flow.cookie)).await;
        assert_problem(&replay, 400, "invalid_oauth_state");
        // Nothing went to the database.
        let rows = app
            .db
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.backend(),
                "SELECT state_key FROM oauth_flows",
            ))
            .await
            .expect("oauth_flows");
        assert!(rows.is_empty());
    }
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    on_every_backend!(
        a_verified_email_links_and_an_unverified_one_is_refused,
        a_verified_identity_never_joins_an_unverified_password_account,
        explicit_linking_and_its_conflicts,
        tampered_replayed_expired_and_cross_browser_states_are_refused,
    );

    async fn a_verified_email_links_and_an_unverified_one_is_refused(db: TestDb) {
        let fake = FakeProvider::start().await;
        let app = oauth_app(db, &fake, &[]).await;
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        // Alice proved her address (as the verification mail does).
        mark_verified(&app, &alice.email).await;

        fake.set_identity("sub-alice", Some("ALICE@example.com"), json!(true));
        let res = sign_in(&app, &fake).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(me(&app, &res.body).await["id"], alice.id);
        let rows = app
            .db
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.backend(),
                "SELECT user_id FROM oauth_accounts WHERE provider_subject = 'sub-alice' AND last_login_at IS NOT NULL",
            ))
            .await
            .expect("oauth_accounts");
        assert_eq!(rows.len(), 1, "the linking sign-in is recorded as a login");

        fake.set_identity("sub-bob", Some("bob@example.com"), json!(false));
        let res = sign_in(&app, &fake).await;
        assert_problem(&res, 409, "oauth_email_unverified");
        fake.set_identity("sub-bob", Some("bob@example.com"), Value::Null);
        assert_problem(&sign_in(&app, &fake).await, 409, "oauth_email_unverified");

        // A new identity without an email cannot become an account.
        fake.set_identity("sub-anon", None, Value::Null);
        let res = sign_in(&app, &fake).await;
        assert_problem(&res, 422, "oauth_email_required");

        // Bob's password still works and no account was made for him.
        app.login(&bob.email, &bob.password).await;
        let users = outbox(&app).await;
        assert_eq!(
            users.iter().filter(|(t, _)| t == "user.created").count(),
            2,
            "only alice and bob registered"
        );
    }

    /// The pre-account takeover: someone registers the victim's address with a password (nothing
    /// proves it); the real owner then signs in with a provider that verified the address. The
    /// identity must not join that account (the squatter's password would keep working).
    async fn a_verified_identity_never_joins_an_unverified_password_account(db: TestDb) {
        let fake = FakeProvider::start().await;
        let app = oauth_app(db, &fake, &[]).await;
        let squatter = app.user("victim").await;
        let registered = app.get("/api/v1/users/me", Some(&squatter.access)).await;
        assert_eq!(
            registered.body["email_verified"], false,
            "{}",
            registered.text
        );

        fake.set_identity("sub-victim", Some("Victim@example.com"), json!(true));
        let res = sign_in(&app, &fake).await;
        assert_problem(&res, 409, "oauth_email_unverified");
        let again = sign_in(&app, &fake).await;
        assert_problem(&again, 409, "oauth_email_unverified");

        let rows = app
            .db
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.backend(),
                "SELECT user_id FROM oauth_accounts",
            ))
            .await
            .expect("oauth_accounts");
        assert!(
            rows.is_empty(),
            "the identity was never joined to any account"
        );
        let created = outbox(&app)
            .await
            .into_iter()
            .filter(|(topic, _)| topic == "user.created")
            .count();
        assert_eq!(created, 1, "no second account was made either");
    }

    async fn explicit_linking_and_its_conflicts(db: TestDb) {
        let fake = FakeProvider::start().await;
        let app = oauth_app(db, &fake, &[]).await;
        let bob = app.user("bob").await;
        let carol = app.user("carol").await;

        let res = app
            .post("/api/v1/auth/oauth/oidc/link/start", None, &json!({}))
            .await;
        assert_problem(&res, 401, "invalid_credentials");

        // Bob links an identity whose email is someone else's and unverified: explicit links
        // do not care about the email. Default redirect_to_frontend=true.
        fake.set_identity("sub-1", Some("elsewhere@example.com"), json!(false));
        let res = link(&app, &fake, &bob.access, "").await;
        assert_eq!(res.status, 302, "{}", res.text);
        let fragment = fragment_of(res.header("location").expect("Location"));
        assert_eq!(
            fragment,
            HashMap::from([
                ("provider".to_owned(), "oidc".to_owned()),
                ("linked".to_owned(), "true".to_owned()),
            ])
        );
        // The identity now signs Bob in.
        let res = sign_in(&app, &fake).await;
        assert_eq!(me(&app, &res.body).await["id"], bob.id);

        // Linking it again to Bob is fine (JSON answer this time).
        let res = link(&app, &fake, &bob.access, "redirect_to_frontend=false").await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body, json!({ "provider": "oidc", "linked": true }));

        // Carol cannot take Bob's identity.
        let res = link(&app, &fake, &carol.access, "redirect_to_frontend=false").await;
        assert_problem(&res, 409, "oauth_identity_already_linked");

        // Bob cannot link a second identity of the same provider.
        fake.set_identity("sub-2", Some("bob@example.com"), json!(true));
        let res = link(&app, &fake, &bob.access, "redirect_to_frontend=false").await;
        assert_problem(&res, 409, "oauth_provider_already_linked");
        // … nor sign in with it through his email, even once it is verified.
        let res = sign_in(&app, &fake).await;
        assert_problem(&res, 409, "oauth_email_unverified");
        mark_verified(&app, &bob.email).await;
        let res = sign_in(&app, &fake).await;
        assert_problem(&res, 409, "oauth_provider_already_linked");
    }

    async fn tampered_replayed_expired_and_cross_browser_states_are_refused(db: TestDb) {
        let fake = FakeProvider::start().await;
        let app = oauth_app(db, &fake, &[]).await;
        let invalid = |res: &TestResponse| {
            assert_problem(res, 400, "invalid_oauth_state");
            assert_eq!(res.body["detail"], "Invalid OAuth state");
        };

        // Cross-browser: another browser's cookie, or none.
        let flow = start(&app, "redirect_to_frontend=false", None).await;
        let callback = fake.authorize(&flow.authorize_url);
        let other = start(&app, "", None).await;
        assert_ne!(other.cookie, flow.cookie);
        invalid(&arrive(&app, &callback, Some(&other.cookie)).await);
        let flow = start(&app, "redirect_to_frontend=false", None).await;
        invalid(&arrive(&app, &fake.authorize(&flow.authorize_url), None).await);

        // Tampered: one character changed.
        let flow = start(&app, "redirect_to_frontend=false", None).await;
        let callback = fake.authorize(&flow.authorize_url);
        let state = query_of(&callback)["state"].clone();
        let flipped = if state.starts_with('A') { "B" } else { "A" };
        let tampered = callback.replace(
            &format!("state={state}"),
            &format!("state={flipped}{}", &state[1..]),
        );
        invalid(&arrive(&app, &tampered, Some(&flow.cookie)).await);
        invalid(
            &arrive(
                &app,
                &callback.replace(&format!("state={state}"), "state=%3Cscript%3E"),
                Some(&flow.cookie),
            )
            .await,
        );

        // Replayed: the second use of a good state.
        let ok = arrive(&app, &callback, Some(&flow.cookie)).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        invalid(&arrive(&app, &callback, Some(&flow.cookie)).await);

        // Several flows in one browser: the cookie is reused and both complete.
        let first = start(&app, "redirect_to_frontend=false", None).await;
        let second = start(&app, "redirect_to_frontend=false", Some(&first.cookie)).await;
        assert_eq!(second.cookie, first.cookie);
        let a = fake.authorize(&first.authorize_url);
        let b = fake.authorize(&second.authorize_url);
        assert_eq!(arrive(&app, &b, Some(&first.cookie)).await.status, 200);
        assert_eq!(arrive(&app, &a, Some(&first.cookie)).await.status, 200);

        // Expired: a second app with OAUTH_STATE_EXPIRE_SECONDS=1 on its own database.
        let short = oauth_app(
            TestDb::sqlite().await,
            &fake,
            &[("OAUTH_STATE_EXPIRE_SECONDS", "1")],
        )
        .await;
        let flow = start(&short, "redirect_to_frontend=false", None).await;
        let callback = fake.authorize(&flow.authorize_url);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        invalid(&arrive(&short, &callback, Some(&flow.cookie)).await);

        // Missing state: before anything else, even the provider's existence.
        for path in ["oidc", "twitter", "github"] {
            let res = app
                .get(
                    &format!("/api/v1/auth/oauth/{path}/callback?code=abc"),
                    None,
                )
                .await;
            assert_problem(&res, 400, "invalid_oauth_state");
            assert_eq!(res.body["detail"], "OAuth callback is missing state");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_id_tokens_are_refused() {
        let fake = FakeProvider::start().await;
        let app = oauth_app(TestDb::sqlite().await, &fake, &[]).await;
        for behaviour in [
            Behaviour::WrongNonce,
            Behaviour::WrongAudience,
            Behaviour::WrongIssuer,
            Behaviour::Expired,
            Behaviour::BadSignature,
        ] {
            fake.set_behaviour(behaviour);
            let res = sign_in(&app, &fake).await;
            assert_eq!(res.status, 502, "{behaviour:?}: {}", res.text);
            assert_problem(&res, 502, "oauth_invalid_token_response");
        }
        assert!(
            outbox(&app).await.is_empty(),
            "no account was created from a bad ID token"
        );
    }
}
