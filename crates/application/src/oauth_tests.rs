use super::*;
use crate::fixtures::*;
use keel_domain::user::User;
use keel_ports::{
    MockIdentityProvider, MockOAuthAccounts, MockSessions, MockTokenCodec, MockUsers,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// Flows in memory: `take` removes, as the contract says.
#[derive(Default)]
struct MemoryFlows(Mutex<HashMap<String, OAuthFlow>>);

#[async_trait::async_trait]
impl OAuthFlows for MemoryFlows {
    async fn put(&self, state: &StateToken, flow: &OAuthFlow) -> Result<(), StoreError> {
        self.0
            .lock()
            .expect("lock")
            .insert(state.storage_key(), flow.clone());
        Ok(())
    }

    async fn take(&self, state: &StateToken) -> Result<Option<OAuthFlow>, StoreError> {
        Ok(self.0.lock().expect("lock").remove(&state.storage_key()))
    }
}

fn provider(
    kind: Provider,
    exchange: Result<ExternalIdentity, &'static str>,
) -> MockIdentityProvider {
    let mut p = MockIdentityProvider::new();
    p.expect_provider().return_const(kind);
    p.expect_display_name()
        .returning(move || format!("{kind} name"));
    p.expect_authorize_url().returning(|r| {
        Ok(format!(
            "https://idp.example/authorize?state={}&code_challenge={}&nonce={}&redirect_uri={}",
            r.state, r.pkce_challenge, r.nonce, r.redirect_uri
        ))
    });
    p.expect_exchange().returning(move |x| {
        assert_eq!(x.code, "the-code");
        assert_eq!(x.redirect_uri, "https://keel.example/cb");
        assert_eq!(x.pkce_verifier.len(), 43);
        match &exchange {
            Ok(identity) => Ok(identity.clone()),
            Err("unreachable") => Err(ProviderError::Unreachable("down".into())),
            Err(other) => Err(ProviderError::ExchangeFailed((*other).to_owned())),
        }
    });
    p
}

fn identity(subject: &str, email: Option<&str>, verified: bool) -> ExternalIdentity {
    ExternalIdentity {
        issuer: "https://idp.example".to_owned(),
        subject: subject.to_owned(),
        email: email.map(str::to_owned),
        email_verified: verified,
    }
}

fn codec() -> MockTokenCodec {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_issue_access()
        .returning(|user, _, _| Ok(format!("access:{user}")));
    tokens
        .expect_issue_refresh()
        .returning(|user, _, _| Ok(format!("refresh:{user}")));
    tokens
}

fn sessions() -> MockSessions {
    let mut sessions = MockSessions::new();
    sessions.expect_create().returning(|_| Ok(()));
    sessions
}

struct Harness {
    flows: Arc<MemoryFlows>,
    start: StartOAuth,
    complete: CompleteOAuth,
}

fn harness(
    exchange: Result<ExternalIdentity, &'static str>,
    users: MockUsers,
    accounts: MockOAuthAccounts,
) -> Harness {
    let providers = OAuthProviders::new(vec![Arc::new(provider(Provider::Oidc, exchange))]);
    let flows = Arc::new(MemoryFlows::default());
    let start = StartOAuth::new(
        providers.clone(),
        flows.clone(),
        random(),
        fixed_clock(),
        FlowPolicy {
            state_ttl: time::Duration::seconds(300),
        },
    );
    let complete = CompleteOAuth::new(
        providers,
        flows.clone(),
        AccountPorts {
            users: Arc::new(users),
            accounts: Arc::new(accounts),
            sessions: Arc::new(sessions()),
            tokens: Arc::new(codec()),
            random: random(),
        },
        fixed_clock(),
        policy(),
    );
    Harness {
        flows,
        start,
        complete,
    }
}

fn start_request(link_user: Option<i64>) -> StartRequest {
    StartRequest {
        provider: "oidc".to_owned(),
        link_user: link_user.map(UserId::new),
        redirect_to_frontend: false,
        redirect_uri: "https://keel.example/cb".to_owned(),
        binding: None,
    }
}

fn state_of(url: &str) -> String {
    url.split("state=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a state in the URL")
        .to_owned()
}

impl Harness {
    async fn started(&self, link_user: Option<i64>) -> (String, Started) {
        let started = self
            .start
            .execute(start_request(link_user))
            .await
            .expect("the flow starts");
        (state_of(&started.authorization_url), started)
    }

    async fn callback(&self, link_user: Option<i64>) -> Result<Completed, CallbackError> {
        let (state, started) = self.started(link_user).await;
        self.complete
            .execute(CallbackRequest {
                provider: "oidc".to_owned(),
                state: Some(state),
                code: Some("the-code".to_owned()),
                binding: Some(started.binding.as_str().to_owned()),
                redirect_uri: "https://keel.example/cb".to_owned(),
                ..CallbackRequest::default()
            })
            .await
    }
}

fn no_users() -> MockUsers {
    let mut users = MockUsers::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users
}

fn accounts(owner: Option<i64>, has_provider: bool) -> MockOAuthAccounts {
    let mut accounts = MockOAuthAccounts::new();
    accounts
        .expect_owner()
        .returning(move |_, _, _| Ok(owner.map(UserId::new)));
    accounts
        .expect_has_provider()
        .returning(move |_, _| Ok(has_provider));
    accounts
}

fn signed_in_as(result: Result<Completed, CallbackError>, user: i64) {
    let completed = result.expect("the callback succeeds");
    assert_eq!(completed.provider, Provider::Oidc);
    assert!(!completed.redirect_to_frontend);
    match completed.outcome {
        CallbackOutcome::SignedIn(pair) => {
            assert_eq!(pair.access_token, format!("access:{user}"));
            assert_eq!(pair.refresh_token, format!("refresh:{user}"));
        }
        CallbackOutcome::Linked => panic!("expected a sign-in"),
    }
}

#[tokio::test]
async fn start_stores_the_flow_server_side_and_sends_only_the_challenge() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    let (state, started) = h.started(Some(7)).await;
    assert_eq!(state.len(), 43);
    let flows = h.flows.0.lock().expect("lock");
    let flow = flows
        .get(&StateToken::parse(&state).expect("valid").storage_key())
        .expect("stored under the state's key");
    assert_eq!(flow.provider, Provider::Oidc);
    assert_eq!(flow.link_user, Some(UserId::new(7)));
    assert_eq!(flow.expires_at, now().plus(time::Duration::seconds(300)));
    assert_eq!(flow.binding_digest, started.binding.digest());
    let url = &started.authorization_url;
    assert!(url.contains(&format!(
        "code_challenge={}",
        flow.pkce_verifier.challenge()
    )));
    assert!(
        !url.contains(flow.pkce_verifier.as_str()),
        "the verifier never travels"
    );
    assert!(url.contains(&format!("nonce={}", flow.nonce.as_str())));
    let secrets = [
        state.as_str(),
        flow.pkce_verifier.as_str(),
        flow.nonce.as_str(),
        started.binding.as_str(),
    ];
    for (i, a) in secrets.iter().enumerate() {
        for b in &secrets[i + 1..] {
            assert_ne!(a, b, "each secret comes from fresh randomness");
        }
    }
}

#[tokio::test]
async fn start_keeps_a_well_formed_binding_and_replaces_a_malformed_one() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    let (_, first) = h.started(None).await;
    let mut again = start_request(None);
    again.binding = Some(first.binding.as_str().to_owned());
    let second = h.start.execute(again).await.expect("starts");
    assert_eq!(second.binding, first.binding, "one binding per browser");
    let mut bad = start_request(None);
    bad.binding = Some("forged".to_owned());
    let third = h.start.execute(bad).await.expect("starts");
    assert_ne!(third.binding.as_str(), "forged");
}

#[tokio::test]
async fn unknown_and_unconfigured_providers_are_refused_before_anything_is_stored() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    let mut request = start_request(None);
    request.provider = "twitter".to_owned();
    assert!(matches!(
        h.start.execute(request).await,
        Err(StartError::Provider(ProviderLookupError::Unsupported(name))) if name == "twitter"
    ));
    let mut request = start_request(None);
    request.provider = "github".to_owned();
    let error = h.start.execute(request).await.expect_err("not configured");
    assert_eq!(
        error.to_string(),
        "OAuth provider 'github' is not configured"
    );
    assert!(h.flows.0.lock().expect("lock").is_empty());
    assert_eq!(h.start.providers().enabled().len(), 1);
    assert_eq!(format!("{:?}", h.start.providers()), "[Oidc]");
}

#[tokio::test]
async fn a_discovery_failure_at_start_is_unreachable_and_stores_nothing() {
    let mut p = MockIdentityProvider::new();
    p.expect_provider().return_const(Provider::Oidc);
    p.expect_authorize_url()
        .returning(|_| Err(ProviderError::Unreachable("no discovery".into())));
    let flows = Arc::new(MemoryFlows::default());
    let start = StartOAuth::new(
        OAuthProviders::new(vec![Arc::new(p)]),
        flows.clone(),
        random(),
        fixed_clock(),
        FlowPolicy {
            state_ttl: time::Duration::seconds(300),
        },
    );
    assert!(matches!(
        start.execute(start_request(None)).await,
        Err(StartError::Unreachable(ProviderError::Unreachable(_)))
    ));
    assert!(flows.0.lock().expect("lock").is_empty());
}

#[test]
fn providers_are_listed_in_contract_order_once_each() {
    let p = |kind| Arc::new(provider(kind, Err("unused"))) as Arc<dyn IdentityProvider>;
    let providers = OAuthProviders::new(vec![
        p(Provider::Oidc),
        p(Provider::Github),
        p(Provider::Google),
        p(Provider::Github),
        p(Provider::Apple),
    ]);
    let names: Vec<_> = providers.enabled().iter().map(|p| p.provider()).collect();
    assert_eq!(
        names,
        [
            Provider::Google,
            Provider::Apple,
            Provider::Github,
            Provider::Oidc
        ]
    );
}

#[tokio::test]
async fn a_missing_state_is_refused_before_the_provider_is_looked_at() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    let result = h
        .complete
        .execute(CallbackRequest {
            provider: "twitter".to_owned(),
            ..CallbackRequest::default()
        })
        .await;
    assert!(matches!(result, Err(CallbackError::MissingState)));
    let result = h
        .complete
        .execute(CallbackRequest {
            provider: "twitter".to_owned(),
            state: Some("x".repeat(43)),
            ..CallbackRequest::default()
        })
        .await;
    assert!(matches!(
        result,
        Err(CallbackError::Provider(ProviderLookupError::Unsupported(_)))
    ));
}

#[tokio::test]
async fn tampered_replayed_cross_browser_and_malformed_states_are_invalid() {
    let h = harness(
        Ok(identity("s", Some("new@example.com"), true)),
        no_users(),
        {
            let mut a = accounts(None, false);
            a.expect_create_user().returning(|new, _| {
                Ok(User {
                    id: UserId::new(3),
                    email: new.email.clone(),
                    password_hash: None,
                    email_verified: new.email_verified,
                    created_at: now(),
                })
            });
            a
        },
    );
    let (state, started) = h.started(None).await;
    let request = |state: &str, binding: Option<&str>| CallbackRequest {
        provider: "oidc".to_owned(),
        state: Some(state.to_owned()),
        code: Some("the-code".to_owned()),
        binding: binding.map(str::to_owned),
        redirect_uri: "https://keel.example/cb".to_owned(),
        ..CallbackRequest::default()
    };
    let invalid = |r: Result<Completed, CallbackError>, why: Option<StateRejection>| match r {
        Err(CallbackError::InvalidState(got)) => assert_eq!(got, why),
        other => panic!("expected an invalid state, got {other:?}"),
    };
    let mine = started.binding.as_str();
    // Tampered: another well-formed value finds nothing; a malformed one is never looked up.
    let mut tampered = state.clone();
    tampered.replace_range(0..1, if state.starts_with('A') { "B" } else { "A" });
    invalid(
        h.complete.execute(request(&tampered, Some(mine))).await,
        None,
    );
    invalid(
        h.complete.execute(request("bad state!", Some(mine))).await,
        None,
    );
    // Another browser: refused, and the state is spent.
    let other = BrowserBinding::generate([9; SECRET_BYTES]);
    invalid(
        h.complete
            .execute(request(&state, Some(other.as_str())))
            .await,
        Some(StateRejection::OtherBrowser),
    );
    invalid(h.complete.execute(request(&state, Some(mine))).await, None);
    // A fresh flow completes once; the replay finds nothing.
    let (state, started) = h.started(None).await;
    let binding = Some(started.binding.as_str());
    signed_in_as(h.complete.execute(request(&state, binding)).await, 3);
    invalid(h.complete.execute(request(&state, binding)).await, None);
}

#[tokio::test]
async fn an_expired_state_is_invalid() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    let (state, started) = h.started(None).await;
    let key = StateToken::parse(&state).expect("valid").storage_key();
    h.flows
        .0
        .lock()
        .expect("lock")
        .get_mut(&key)
        .expect("stored")
        .expires_at = now();
    let result = h
        .complete
        .execute(CallbackRequest {
            provider: "oidc".to_owned(),
            state: Some(state),
            code: Some("the-code".to_owned()),
            binding: Some(started.binding.as_str().to_owned()),
            ..CallbackRequest::default()
        })
        .await;
    assert!(matches!(
        result,
        Err(CallbackError::InvalidState(Some(StateRejection::Expired)))
    ));
}

#[tokio::test]
async fn provider_errors_and_missing_codes_are_reported_after_the_state_check() {
    let h = harness(Err("unused"), MockUsers::new(), MockOAuthAccounts::new());
    for (error, description, expected) in [
        (
            "access_denied",
            Some("The user said no"),
            "The user said no",
        ),
        ("access_denied", Some(" "), "access_denied"),
        ("server_error", None, "server_error"),
    ] {
        let (state, started) = h.started(None).await;
        let result = h
            .complete
            .execute(CallbackRequest {
                provider: "oidc".to_owned(),
                state: Some(state),
                error: Some(error.to_owned()),
                error_description: description.map(str::to_owned),
                binding: Some(started.binding.as_str().to_owned()),
                ..CallbackRequest::default()
            })
            .await;
        match result {
            Err(CallbackError::ProviderDenied {
                provider,
                message,
                redirect_to_frontend,
            }) => {
                assert_eq!(provider, Provider::Oidc);
                assert_eq!(message, expected);
                assert!(!redirect_to_frontend);
            }
            other => panic!("expected a provider error, got {other:?}"),
        }
    }
    let (state, started) = h.started(None).await;
    let result = h
        .complete
        .execute(CallbackRequest {
            provider: "oidc".to_owned(),
            state: Some(state),
            code: Some(String::new()),
            binding: Some(started.binding.as_str().to_owned()),
            ..CallbackRequest::default()
        })
        .await;
    assert!(matches!(result, Err(CallbackError::CodeMissing)));
}

#[tokio::test]
async fn exchange_failures_are_passed_on() {
    let h = harness(
        Err("invalid_grant"),
        MockUsers::new(),
        MockOAuthAccounts::new(),
    );
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Exchange(ProviderError::ExchangeFailed(_)))
    ));
    let h = harness(
        Err("unreachable"),
        MockUsers::new(),
        MockOAuthAccounts::new(),
    );
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Exchange(ProviderError::Unreachable(_)))
    ));
}

#[tokio::test]
async fn a_known_identity_logs_its_user_in_and_records_the_login() {
    let mut a = accounts(Some(4), true);
    a.expect_record_login()
        .withf(|p, iss, sub, at| {
            *p == Provider::Oidc && iss == "https://idp.example" && sub == "s" && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let h = harness(Ok(identity("s", None, false)), MockUsers::new(), a);
    signed_in_as(h.callback(None).await, 4);
}

#[tokio::test]
async fn a_verified_email_links_to_its_account() {
    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(5))));
    let mut a = accounts(None, false);
    a.expect_link()
        .withf(|user, link| {
            *user == UserId::new(5) && link.identity.subject == "s" && link.at == now()
        })
        .times(1)
        .returning(|_, _| Ok(()));
    a.expect_record_login()
        .withf(|_, _, sub, at| sub == "s" && *at == now())
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let h = harness(Ok(identity("s", Some("U5@example.com"), true)), users, a);
    signed_in_as(h.callback(None).await, 5);
}

#[tokio::test]
async fn an_unverified_email_matching_an_account_is_refused() {
    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(5))));
    let h = harness(
        Ok(identity("s", Some("u5@example.com"), false)),
        users,
        accounts(None, false),
    );
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Refused(LinkRefusal::EmailUnverified))
    ));
}

#[tokio::test]
async fn a_verified_email_never_joins_an_account_whose_email_is_unverified() {
    // Someone registered the address with a password: no mailed token proved it.
    let mut users = MockUsers::new();
    users.expect_find_by_email().returning(|_| {
        Ok(Some(User {
            email_verified: false,
            ..user(5)
        }))
    });
    let mut a = accounts(None, false);
    a.expect_link().times(0);
    let h = harness(Ok(identity("s", Some("u5@example.com"), true)), users, a);
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Refused(LinkRefusal::EmailUnverified))
    ));
}

#[tokio::test]
async fn a_new_identity_without_a_usable_email_is_refused() {
    let h = harness(
        Ok(identity("s", Some("not an email"), true)),
        MockUsers::new(),
        accounts(None, false),
    );
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Refused(LinkRefusal::EmailRequired))
    ));
}

#[tokio::test]
async fn a_new_identity_with_a_new_email_creates_a_passwordless_user() {
    let mut a = accounts(None, false);
    a.expect_create_user()
        .withf(|new, link| {
            new.email.as_str() == "new@example.com"
                && new.password_hash.is_none()
                && !new.email_verified
                && link.provider == Provider::Oidc
        })
        .times(1)
        .returning(|new, _| {
            Ok(User {
                id: UserId::new(8),
                email: new.email.clone(),
                password_hash: None,
                email_verified: new.email_verified,
                created_at: now(),
            })
        });
    let h = harness(
        Ok(identity("s", Some("New@Example.com"), false)),
        no_users(),
        a,
    );
    signed_in_as(h.callback(None).await, 8);
}

#[tokio::test]
async fn a_lost_race_is_decided_again_with_fresh_facts() {
    // First decision: create; a concurrent flow registers the identity first; second: login.
    let mut a = MockOAuthAccounts::new();
    let calls = Mutex::new(0);
    a.expect_owner().returning(move |_, _, _| {
        let mut n = calls.lock().expect("lock");
        *n += 1;
        Ok((*n > 1).then(|| UserId::new(9)))
    });
    a.expect_has_provider().returning(|_, _| Ok(false));
    a.expect_create_user()
        .times(1)
        .returning(|_, _| Err(StoreError::Conflict));
    a.expect_record_login()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let h = harness(
        Ok(identity("s", Some("n@example.com"), true)),
        no_users(),
        a,
    );
    signed_in_as(h.callback(None).await, 9);

    // A conflict that persists is a refusal, not a 500.
    let mut a = accounts(None, false);
    a.expect_create_user()
        .times(2)
        .returning(|_, _| Err(StoreError::Conflict));
    let h = harness(
        Ok(identity("s", Some("n@example.com"), true)),
        no_users(),
        a,
    );
    assert!(matches!(
        h.callback(None).await,
        Err(CallbackError::Refused(LinkRefusal::IdentityAlreadyLinked))
    ));
}

#[tokio::test]
async fn explicit_links_attach_to_the_signed_in_user_or_conflict() {
    let mut a = accounts(None, false);
    a.expect_link()
        .withf(|user, _| *user == UserId::new(6))
        .times(1)
        .returning(|_, _| Ok(()));
    let h = harness(Ok(identity("s", None, false)), MockUsers::new(), a);
    let completed = h.callback(Some(6)).await.expect("linked");
    assert_eq!(completed.outcome, CallbackOutcome::Linked);

    let h = harness(
        Ok(identity("s", None, false)),
        MockUsers::new(),
        accounts(Some(6), true),
    );
    let completed = h
        .callback(Some(6))
        .await
        .expect("already linked to the same user");
    assert_eq!(completed.outcome, CallbackOutcome::Linked);

    let h = harness(
        Ok(identity("s", None, false)),
        MockUsers::new(),
        accounts(Some(7), false),
    );
    assert!(matches!(
        h.callback(Some(6)).await,
        Err(CallbackError::Refused(LinkRefusal::IdentityAlreadyLinked))
    ));

    let h = harness(
        Ok(identity("s", None, false)),
        MockUsers::new(),
        accounts(None, true),
    );
    assert!(matches!(
        h.callback(Some(6)).await,
        Err(CallbackError::Refused(LinkRefusal::ProviderAlreadyLinked))
    ));

    let mut a = accounts(None, false);
    a.expect_link().returning(|_, _| Err(StoreError::Missing));
    let h = harness(Ok(identity("s", None, false)), MockUsers::new(), a);
    assert!(matches!(
        h.callback(Some(6)).await,
        Err(CallbackError::Store(StoreError::Missing))
    ));
}
