//! [`Users`] on SeaORM: accounts, and the `user.created` event committed with each one.
//!
//! Uniqueness of the (normalised) e-mail address is the database's job (`users_email_key`):
//! two concurrent registrations of one address end as one `Ok` and one
//! [`StoreError::Conflict`].

use crate::entity::user;
use crate::error::{store_error, unreadable};
use crate::lost_connection::once_more_if_lost;
use crate::transaction::{begin, finish_and_wake};
use crate::waker::Wakeup;
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::session::FamilyId;
use keel_domain::user::{Email, NewUser, PasswordHash, User, UserId};
use keel_ports::{OutboxWaker, StoreError, Users};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, Statement, Value,
};
use std::sync::Arc;

/// Stored users on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaUsers {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl SeaUsers {
    /// Users stored through `db`; `waker` is woken after each commit that recorded events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        Self {
            db,
            wakeup: Wakeup::new(waker),
        }
    }
}

#[async_trait]
impl Users for SeaUsers {
    #[tracing::instrument(name = "db.users.create", skip_all, fields(otel.kind = "client"))]
    async fn create(&self, new: &NewUser) -> Result<User, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = insert(&txn, new).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(name = "db.users.find", skip_all, fields(otel.kind = "client"))]
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        once_more_if_lost(&self.db, || {
            user::Entity::find_by_id(id.get()).one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(to_domain)
        .transpose()
    }

    #[tracing::instrument(
        name = "db.users.find_in_live_session",
        skip_all,
        fields(otel.kind = "client")
    )]
    async fn find_in_live_session(
        &self,
        id: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => LIVE_SESSION_USER_POSTGRES,
            _ => LIVE_SESSION_USER_SQLITE,
        };
        once_more_if_lost(&self.db, || {
            user::Entity::find()
                .from_raw_sql(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [
                        id.get().into(),
                        family.get().into(),
                        instant::value(backend, now),
                    ],
                ))
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(to_domain)
        .transpose()
    }

    #[tracing::instrument(name = "db.users.find_by_email", skip_all, fields(otel.kind = "client"))]
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        once_more_if_lost(&self.db, || {
            user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(to_domain)
        .transpose()
    }
}

/// The user `$1`, if the session family `$2` is theirs and live at `$3`:
/// `SessionFamily::is_live` in SQL (not revoked, its current refresh token not expired; the
/// family row carries that token's expiry, so this is two primary-key lookups). A fixed text,
/// not a query builder: it runs on every authenticated request (docs/performance.md).
const LIVE_SESSION_USER_POSTGRES: &str = "SELECT id, email, password_hash, email_verified, \
     created_at FROM users WHERE id = $1 AND EXISTS (SELECT 1 FROM session_families AS f \
     WHERE f.id = $2 AND f.user_id = users.id AND f.revoked_at IS NULL \
     AND f.current_expires_at > $3)";

/// [`LIVE_SESSION_USER_POSTGRES`] with SQLite's placeholders.
const LIVE_SESSION_USER_SQLITE: &str = "SELECT id, email, password_hash, email_verified, \
     created_at FROM users WHERE id = ? AND EXISTS (SELECT 1 FROM session_families AS f \
     WHERE f.id = ? AND f.user_id = users.id AND f.revoked_at IS NULL \
     AND f.current_expires_at > ?)";

pub(crate) async fn insert(txn: &DatabaseTransaction, new: &NewUser) -> Result<User, StoreError> {
    let backend = txn.get_database_backend();
    let row: [Expr; 4] = [
        new.email.as_str().into(),
        Value::String(new.password_hash.as_ref().map(|h| h.as_str().to_owned())).into(),
        new.email_verified.into(),
        instant::value(backend, new.created_at).into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(user::Entity)
        .columns([
            user::Column::Email,
            user::Column::PasswordHash,
            user::Column::EmailVerified,
            user::Column::CreatedAt,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("users insert: {err}")))?
        .returning_col(user::Column::Id);
    let id = returned_id(txn, &insert).await?;
    let id = UserId::new(id);
    if let Some(verification) = &new.verification {
        crate::email_tokens::insert_for(txn, id, verification).await?;
    }
    outbox::append(txn, &new.events(id), instant::now()).await?;
    Ok(User {
        id,
        email: new.email.clone(),
        password_hash: new.password_hash.clone(),
        email_verified: new.email_verified,
        created_at: new.created_at,
    })
}

/// Runs an `INSERT … RETURNING id` and reads the id.
pub(crate) async fn returned_id(
    txn: &DatabaseTransaction,
    insert: &sea_orm::sea_query::InsertStatement,
) -> Result<i64, StoreError> {
    txn.query_one(insert)
        .await
        .map_err(store_error)?
        .ok_or_else(|| unreadable("INSERT … RETURNING id returned no row"))?
        .try_get::<i64>("", "id")
        .map_err(store_error)
}

/// A stored row as the domain type.
pub(crate) fn to_domain(row: user::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::new(row.id),
        email: stored_email(row.id, &row.email)?,
        password_hash: row.password_hash.map(PasswordHash::new),
        email_verified: row.email_verified,
        created_at: instant::read(row.created_at),
    })
}

/// A stored address, which was normalised before it was stored.
pub(crate) fn stored_email(user: i64, email: &str) -> Result<Email, StoreError> {
    Email::parse(email).map_err(|err| unreadable(format!("users.email of user {user}: {err}")))
}
