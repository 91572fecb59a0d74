//! [`EmailTokens`] on SeaORM: one-time mailed tokens, stored as hashes, with their mail events
//! in the same transaction, and what redeeming one changes.

use crate::entity::{email_token, user};
use crate::error::{store_error, unreadable};
use crate::sessions::revoke_families;
use crate::transaction::{begin, finish, finish_and_wake};
use crate::waker::Wakeup;
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::email_token::{MailRequest, StoredToken, TokenHash, TokenPurpose};
use keel_domain::session::RevocationReason;
use keel_domain::user::{PasswordHash, UserId};
use keel_ports::{EmailTokens, OutboxWaker, StoreError};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, FromQueryResult, Value,
};
use std::sync::Arc;

/// Stored email tokens on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaEmailTokens {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl SeaEmailTokens {
    /// Tokens stored through `db`; `waker` is woken after each commit that recorded events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        Self {
            db,
            wakeup: Wakeup::new(waker),
        }
    }
}

/// Inserts the token of `request` for `user` (a registration: the user was just inserted).
pub(crate) async fn insert_for(
    txn: &DatabaseTransaction,
    user: UserId,
    request: &MailRequest,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let row: [Expr; 4] = [
        request.hash().as_str().into(),
        user.get().into(),
        request.purpose.as_str().into(),
        instant::value(backend, request.expires_at).into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(email_token::Entity)
        .columns([
            email_token::Column::TokenHash,
            email_token::Column::UserId,
            email_token::Column::Purpose,
            email_token::Column::ExpiresAt,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("email_tokens insert: {err}")))?;
    txn.execute(&insert).await.map_err(store_error)?;
    Ok(())
}

async fn issue(
    txn: &DatabaseTransaction,
    request: &MailRequest,
) -> Result<Option<UserId>, StoreError> {
    let backend = txn.get_database_backend();
    // The account is looked up by the insert itself: an unknown address runs the same
    // statement and inserts nothing.
    let of_account = Query::select()
        .expr(Expr::val(request.hash().as_str()))
        .column(user::Column::Id)
        .expr(Expr::val(request.purpose.as_str()))
        .expr(Expr::val(instant::value(backend, request.expires_at)))
        .from(user::Entity)
        .and_where(user::Column::Email.eq(request.email.as_str()))
        .to_owned();
    let mut insert = Query::insert();
    insert
        .into_table(email_token::Entity)
        .columns([
            email_token::Column::TokenHash,
            email_token::Column::UserId,
            email_token::Column::Purpose,
            email_token::Column::ExpiresAt,
        ])
        .select_from(of_account)
        .map_err(|err| unreadable(format!("email_tokens insert: {err}")))?
        .returning_col(email_token::Column::UserId);
    let Some(row) = txn.query_one(&insert).await.map_err(store_error)? else {
        return Ok(None);
    };
    let user = UserId::new(row.try_get::<i64>("", "user_id").map_err(store_error)?);
    outbox::append(txn, &[request.event(user)], instant::now()).await?;
    Ok(Some(user))
}

/// Spends the unused token with `hash` of `purpose` (at most once: `WHERE used_at IS NULL`)
/// and answers its account when [`StoredToken::redeem`] accepts it at `now`; also spends the
/// account's other unused tokens of that purpose.
async fn redeem(
    txn: &DatabaseTransaction,
    hash: &TokenHash,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<Option<UserId>, StoreError> {
    let backend = txn.get_database_backend();
    let mut spend = Query::update();
    spend
        .table(email_token::Entity)
        .value(email_token::Column::UsedAt, instant::value(backend, now))
        .and_where(email_token::Column::TokenHash.eq(hash.as_str()))
        .and_where(email_token::Column::Purpose.eq(purpose.as_str()))
        .and_where(email_token::Column::UsedAt.is_null())
        .returning_all();
    let Some(row) = txn.query_one(&spend).await.map_err(store_error)? else {
        return Ok(None);
    };
    let row = email_token::Model::from_query_result(&row, "").map_err(store_error)?;
    let stored = StoredToken {
        user: UserId::new(row.user_id),
        purpose: TokenPurpose::parse(&row.purpose)
            .ok_or_else(|| unreadable(format!("email_tokens.purpose {:?}", row.purpose)))?,
        expires_at: instant::read(row.expires_at),
        // Unused until the update above spent it.
        used_at: None,
    };
    let Ok(user) = stored.redeem(purpose, now) else {
        return Ok(None);
    };
    let mut others = Query::update();
    others
        .table(email_token::Entity)
        .value(email_token::Column::UsedAt, instant::value(backend, now))
        .and_where(email_token::Column::UserId.eq(user.get()))
        .and_where(email_token::Column::Purpose.eq(purpose.as_str()))
        .and_where(email_token::Column::UsedAt.is_null());
    txn.execute(&others).await.map_err(store_error)?;
    Ok(Some(user))
}

async fn set_verified(
    txn: &DatabaseTransaction,
    user: UserId,
    password: Option<&PasswordHash>,
) -> Result<(), StoreError> {
    let mut update = Query::update();
    update
        .table(user::Entity)
        .value(user::Column::EmailVerified, true)
        .and_where(user::Column::Id.eq(user.get()));
    if let Some(password) = password {
        update.value(
            user::Column::PasswordHash,
            Value::String(Some(password.as_str().to_owned())),
        );
    }
    txn.execute(&update).await.map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl EmailTokens for SeaEmailTokens {
    #[tracing::instrument(name = "db.email_tokens.issue", skip_all, fields(otel.kind = "client"))]
    async fn issue(&self, request: &MailRequest) -> Result<Option<UserId>, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = issue(&txn, request).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(
        name = "db.email_tokens.verify_email",
        skip_all,
        fields(otel.kind = "client")
    )]
    async fn verify_email(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = async {
            let user = redeem(&txn, hash, TokenPurpose::VerifyEmail, now).await?;
            if let Some(user) = user {
                set_verified(&txn, user, None).await?;
            }
            Ok(user)
        }
        .await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(
        name = "db.email_tokens.reset_password",
        skip_all,
        fields(otel.kind = "client")
    )]
    async fn reset_password(
        &self,
        hash: &TokenHash,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = async {
            let user = redeem(&txn, hash, TokenPurpose::ResetPassword, now).await?;
            if let Some(user) = user {
                set_verified(&txn, user, Some(password)).await?;
                revoke_families(&txn, user, RevocationReason::PasswordReset, now).await?;
            }
            Ok(user)
        }
        .await;
        finish(txn, outcome).await
    }
}
