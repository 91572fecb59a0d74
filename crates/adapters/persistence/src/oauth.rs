//! [`OAuthAccounts`] and [`OAuthFlows`] on SeaORM: linked provider identities
//! (`oauth_accounts`) and flows in progress (`oauth_flows`, used when Redis is not configured).
//!
//! Invariants kept here:
//! - an identity is keyed by (provider, issuer, subject); the unique keys
//!   `oauth_accounts_provider_subject_key` and `oauth_accounts_user_id_provider_key` decide
//!   races (one identity, one user per provider) as [`StoreError::Conflict`];
//! - a user created through OAuth, its identity row and its `user.created` event commit in one
//!   transaction;
//! - a flow is removed by the `DELETE … RETURNING` that reads it, so a state is used at most
//!   once even by concurrent callbacks; expired flows are purged whenever a flow is stored.

use crate::entity::{oauth_account, oauth_flow};
use crate::error::{store_error, unreadable};
use crate::lost_connection::once_more_if_lost;
use crate::transaction::{begin, finish};
use crate::{instant, users};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::oauth::{Nonce, OAuthFlow, PkceVerifier, Provider, StateToken};
use keel_domain::user::{NewUser, User, UserId};
use keel_ports::{IdentityLink, OAuthAccounts, OAuthFlows, StoreError};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, Value,
};
use time::OffsetDateTime;

/// Linked identities on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaOAuthAccounts {
    db: DatabaseConnection,
}

impl SeaOAuthAccounts {
    /// Identities stored through `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

async fn insert_link(
    txn: &DatabaseTransaction,
    user: UserId,
    link: &IdentityLink,
    login: bool,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let at = instant::value(backend, link.at);
    let row: [Expr; 7] = [
        user.get().into(),
        link.provider.as_str().into(),
        link.identity.subject.as_str().into(),
        Value::String(link.identity.email.clone()).into(),
        at.clone().into(),
        instant::optional(backend, login.then_some(link.at)).into(),
        link.identity.issuer.as_str().into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(oauth_account::Entity)
        .columns([
            oauth_account::Column::UserId,
            oauth_account::Column::Provider,
            oauth_account::Column::ProviderSubject,
            oauth_account::Column::ProviderEmail,
            oauth_account::Column::CreatedAt,
            oauth_account::Column::LastLoginAt,
            oauth_account::Column::ProviderIssuer,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("oauth_accounts insert: {err}")))?;
    txn.execute(&insert).await.map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl OAuthAccounts for SeaOAuthAccounts {
    #[tracing::instrument(name = "db.oauth_accounts.owner", skip_all, fields(otel.kind = "client"))]
    async fn owner(
        &self,
        provider: Provider,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(once_more_if_lost(&self.db, || {
            oauth_account::Entity::find()
                .filter(oauth_account::Column::Provider.eq(provider.as_str()))
                .filter(oauth_account::Column::ProviderIssuer.eq(issuer))
                .filter(oauth_account::Column::ProviderSubject.eq(subject))
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(|row| UserId::new(row.user_id)))
    }

    #[tracing::instrument(name = "db.oauth_accounts.has_provider", skip_all, fields(otel.kind = "client"))]
    async fn has_provider(&self, user: UserId, provider: Provider) -> Result<bool, StoreError> {
        let count = once_more_if_lost(&self.db, || {
            oauth_account::Entity::find()
                .filter(oauth_account::Column::UserId.eq(user.get()))
                .filter(oauth_account::Column::Provider.eq(provider.as_str()))
                .count(&self.db)
        })
        .await
        .map_err(store_error)?;
        Ok(count > 0)
    }

    #[tracing::instrument(name = "db.oauth_accounts.link", skip_all, fields(otel.kind = "client"))]
    async fn link(&self, user: UserId, link: &IdentityLink) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = insert_link(&txn, user, link, false).await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.oauth_accounts.create_user", skip_all, fields(otel.kind = "client"))]
    async fn create_user(&self, user: &NewUser, link: &IdentityLink) -> Result<User, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = async {
            let created = users::insert(&txn, user).await?;
            insert_link(&txn, created.id, link, true).await?;
            Ok(created)
        }
        .await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.oauth_accounts.record_login", skip_all, fields(otel.kind = "client"))]
    async fn record_login(
        &self,
        provider: Provider,
        issuer: &str,
        subject: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let mut update = Query::update();
        update
            .table(oauth_account::Entity)
            .value(
                oauth_account::Column::LastLoginAt,
                instant::value(backend, at),
            )
            .and_where(Expr::col(oauth_account::Column::Provider).eq(provider.as_str()))
            .and_where(Expr::col(oauth_account::Column::ProviderIssuer).eq(issuer))
            .and_where(Expr::col(oauth_account::Column::ProviderSubject).eq(subject));
        // Idempotent (it sets the same instant again), so safe to run twice.
        once_more_if_lost(&self.db, || self.db.execute(&update))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// OAuth flows in progress on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaOAuthFlows {
    db: DatabaseConnection,
}

impl SeaOAuthFlows {
    /// Flows stored through `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OAuthFlows for SeaOAuthFlows {
    #[tracing::instrument(name = "db.oauth_flows.put", skip_all, fields(otel.kind = "client"))]
    async fn put(&self, state: &StateToken, flow: &OAuthFlow) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let now = instant::now();
        let txn = begin(&self.db).await?;
        let outcome = async {
            let mut purge = Query::delete();
            purge.from_table(oauth_flow::Entity).and_where(
                Expr::col(oauth_flow::Column::ExpiresAt).lte(instant::value(backend, now)),
            );
            txn.execute(&purge).await.map_err(store_error)?;
            let row: [Expr; 9] = [
                state.storage_key().into(),
                flow.provider.as_str().into(),
                flow.pkce_verifier.as_str().into(),
                flow.nonce.as_str().into(),
                Value::BigInt(flow.link_user.map(UserId::get)).into(),
                flow.redirect_to_frontend.into(),
                flow.binding_digest.as_str().into(),
                instant::value(backend, flow.expires_at).into(),
                instant::value(backend, now).into(),
            ];
            let mut insert = Query::insert();
            insert
                .into_table(oauth_flow::Entity)
                .columns([
                    oauth_flow::Column::StateKey,
                    oauth_flow::Column::Provider,
                    oauth_flow::Column::PkceVerifier,
                    oauth_flow::Column::Nonce,
                    oauth_flow::Column::LinkUserId,
                    oauth_flow::Column::RedirectToFrontend,
                    oauth_flow::Column::BindingDigest,
                    oauth_flow::Column::ExpiresAt,
                    oauth_flow::Column::CreatedAt,
                ])
                .values(row)
                .map_err(|err| unreadable(format!("oauth_flows insert: {err}")))?;
            txn.execute(&insert).await.map_err(store_error)?;
            Ok(())
        }
        .await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.oauth_flows.take", skip_all, fields(otel.kind = "client"))]
    async fn take(&self, state: &StateToken) -> Result<Option<OAuthFlow>, StoreError> {
        let mut delete = Query::delete();
        delete
            .from_table(oauth_flow::Entity)
            .and_where(Expr::col(oauth_flow::Column::StateKey).eq(state.storage_key()))
            .returning_all();
        // In a transaction, although one statement: a lost pooled connection then fails the
        // `BEGIN`, which is safe to retry, and never this `DELETE`, which is not (the flow is
        // single-use: a second run would find it gone).
        let txn = begin(&self.db).await?;
        let outcome = txn.query_one(&delete).await.map_err(store_error);
        let Some(row) = finish(txn, outcome).await? else {
            return Ok(None);
        };
        let get_string = |column: &str| row.try_get::<String>("", column).map_err(store_error);
        let provider_name = get_string("provider")?;
        let provider = Provider::parse(&provider_name)
            .ok_or_else(|| unreadable(format!("oauth_flows.provider {provider_name:?}")))?;
        let expires_at: OffsetDateTime = row.try_get("", "expires_at").map_err(store_error)?;
        Ok(Some(OAuthFlow {
            provider,
            pkce_verifier: PkceVerifier::new(get_string("pkce_verifier")?),
            nonce: Nonce::new(get_string("nonce")?),
            link_user: row
                .try_get::<Option<i64>>("", "link_user_id")
                .map_err(store_error)?
                .map(UserId::new),
            redirect_to_frontend: row
                .try_get::<bool>("", "redirect_to_frontend")
                .map_err(store_error)?,
            binding_digest: get_string("binding_digest")?,
            expires_at: instant::read(expires_at),
        }))
    }
}
