//! `SeaOAuthAccounts` and `SeaOAuthFlows` held to their port contracts on every backend.

use crate::harness::{Store, at, email};
use keel_domain::oauth::{
    ExternalIdentity, Nonce, OAuthFlow, PkceVerifier, Provider, SECRET_BYTES, StateToken,
};
use keel_domain::user::{NewUser, UserId};
use keel_persistence::entity::oauth_account;
use keel_persistence::{SeaOAuthAccounts, SeaOAuthFlows};
use keel_ports::{IdentityLink, OAuthAccounts, OAuthFlows, StoreError, Users};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::sync::Arc;

on_every_backend!(
    identities_link_once_per_identity_and_per_user_and_provider,
    an_oauth_user_its_identity_and_its_event_commit_together,
    a_flow_is_taken_at_most_once,
);

fn link(provider: Provider, subject: &str, email: Option<&str>) -> IdentityLink {
    IdentityLink {
        provider,
        identity: ExternalIdentity {
            issuer: "https://idp.example".to_owned(),
            subject: subject.to_owned(),
            email: email.map(str::to_owned),
            email_verified: true,
        },
        at: at(5),
    }
}

async fn identities_link_once_per_identity_and_per_user_and_provider(s: Store) {
    let accounts = SeaOAuthAccounts::new(s.conn.clone());
    let alice = s.user("alice@example.com").await;
    let bob = s.user("bob@example.com").await;
    let github = link(Provider::Github, "42", Some("a@github.example"));
    assert_eq!(
        accounts
            .owner(Provider::Github, "https://idp.example", "42")
            .await
            .expect("owner"),
        None
    );
    accounts.link(alice.id, &github).await.expect("first link");
    assert_eq!(
        accounts
            .owner(Provider::Github, "https://idp.example", "42")
            .await
            .expect("owner"),
        Some(alice.id),
        "[{}]",
        s.label
    );
    // Keyed by issuer too, and by provider.
    assert_eq!(
        accounts
            .owner(Provider::Github, "https://other.example", "42")
            .await
            .expect("owner"),
        None
    );
    assert_eq!(
        accounts
            .owner(Provider::Google, "https://idp.example", "42")
            .await
            .expect("owner"),
        None
    );
    assert!(
        accounts
            .has_provider(alice.id, Provider::Github)
            .await
            .expect("has")
    );
    assert!(
        !accounts
            .has_provider(alice.id, Provider::Google)
            .await
            .expect("has")
    );
    assert!(
        !accounts
            .has_provider(bob.id, Provider::Github)
            .await
            .expect("has")
    );

    // The same identity for Bob, or a second GitHub identity for Alice: conflicts.
    assert!(
        matches!(
            accounts.link(bob.id, &github).await,
            Err(StoreError::Conflict)
        ),
        "[{}]",
        s.label
    );
    assert!(matches!(
        accounts
            .link(alice.id, &link(Provider::Github, "43", None))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(
        matches!(
            accounts
                .link(UserId::new(999_999), &link(Provider::Google, "g", None))
                .await,
            Err(StoreError::Missing)
        ),
        "[{}]",
        s.label
    );

    let row = oauth_account::Entity::find()
        .filter(oauth_account::Column::ProviderSubject.eq("42"))
        .one(&s.conn)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.provider, "github");
    assert_eq!(row.provider_issuer, "https://idp.example");
    assert_eq!(row.provider_email.as_deref(), Some("a@github.example"));
    assert_eq!(row.last_login_at, None, "a link is not a login");
    accounts
        .record_login(Provider::Github, "https://idp.example", "42", at(60))
        .await
        .expect("login recorded");
    let row = oauth_account::Entity::find_by_id(row.id)
        .one(&s.conn)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(
        row.last_login_at.map(keel_domain::Timestamp::new),
        Some(at(60)),
        "[{}]",
        s.label
    );
}

async fn an_oauth_user_its_identity_and_its_event_commit_together(s: Store) {
    let accounts = SeaOAuthAccounts::new(s.conn.clone());
    let new = NewUser {
        email: email("carol@example.com"),
        password_hash: None,
        email_verified: true,
        verification: None,
        created_at: at(1),
    };
    let carol = accounts
        .create_user(
            &new,
            &link(Provider::Oidc, "sub-c", Some("carol@example.com")),
        )
        .await
        .expect("created");
    assert!(carol.password_hash.is_none());
    assert_eq!(
        s.users.find(carol.id).await.expect("find"),
        Some(carol.clone())
    );
    assert_eq!(
        accounts
            .owner(Provider::Oidc, "https://idp.example", "sub-c")
            .await
            .expect("owner"),
        Some(carol.id)
    );
    let events = s.events().await;
    assert_eq!(events.len(), 1, "[{}]", s.label);
    assert_eq!(events[0].0, "user.created");
    assert_eq!(events[0].1["user_id"], carol.id.get());

    // A taken email or identity: nothing of the attempt stays.
    let again = NewUser {
        email: email("carol@example.com"),
        ..new.clone()
    };
    assert!(matches!(
        accounts
            .create_user(&again, &link(Provider::Oidc, "sub-d", None))
            .await,
        Err(StoreError::Conflict)
    ));
    let other = NewUser {
        email: email("dan@example.com"),
        ..new
    };
    assert!(
        matches!(
            accounts
                .create_user(&other, &link(Provider::Oidc, "sub-c", None))
                .await,
            Err(StoreError::Conflict)
        ),
        "[{}]",
        s.label
    );
    assert!(
        s.users
            .find_by_email(&email("dan@example.com"))
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        accounts
            .owner(Provider::Oidc, "https://idp.example", "sub-d")
            .await
            .expect("owner"),
        None
    );
    assert_eq!(
        s.events().await.len(),
        1,
        "[{}] no event without its write",
        s.label
    );
}

fn flow(link_user: Option<UserId>, expires_at: keel_domain::Timestamp) -> OAuthFlow {
    OAuthFlow {
        provider: Provider::Apple,
        pkce_verifier: PkceVerifier::generate([1; SECRET_BYTES]),
        nonce: Nonce::generate([2; SECRET_BYTES]),
        link_user,
        redirect_to_frontend: true,
        binding_digest: "digest".to_owned(),
        expires_at,
    }
}

fn soon() -> keel_domain::Timestamp {
    keel_domain::Timestamp::new(time::OffsetDateTime::now_utc()).plus(time::Duration::minutes(5))
}

async fn a_flow_is_taken_at_most_once(s: Store) {
    let flows = Arc::new(SeaOAuthFlows::new(s.conn.clone()));
    let alice = s.user("alice@example.com").await;
    let state = StateToken::generate([7; SECRET_BYTES]);
    let stored = flow(Some(alice.id), soon());
    flows.put(&state, &stored).await.expect("put");
    assert!(matches!(
        flows.put(&state, &stored).await,
        Err(StoreError::Conflict)
    ));
    assert!(
        flows
            .take(&StateToken::generate([8; SECRET_BYTES]))
            .await
            .expect("take")
            .is_none()
    );

    // Concurrent callbacks: exactly one gets the flow.
    let (a, b) = tokio::join!(
        {
            let f = flows.clone();
            let st = state.clone();
            async move { f.take(&st).await }
        },
        {
            let f = flows.clone();
            let st = state.clone();
            async move { f.take(&st).await }
        },
    );
    let got: Vec<OAuthFlow> = [a, b]
        .into_iter()
        .filter_map(|r| r.expect("take"))
        .collect();
    assert_eq!(got, [stored], "[{}]", s.label);
    assert!(
        flows.take(&state).await.expect("take").is_none(),
        "[{}] replay",
        s.label
    );

    // Anonymous flows round-trip too; expired ones are purged by the next put.
    let anonymous = StateToken::generate([9; SECRET_BYTES]);
    let old = flow(None, at(0));
    flows.put(&anonymous, &old).await.expect("put");
    flows
        .put(
            &StateToken::generate([10; SECRET_BYTES]),
            &flow(None, soon()),
        )
        .await
        .expect("put");
    assert!(
        flows.take(&anonymous).await.expect("take").is_none(),
        "[{}] purged",
        s.label
    );
}
