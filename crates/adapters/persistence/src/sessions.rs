//! [`Sessions`] on SeaORM: refresh-token families (`session_families`) and every token they
//! issued (`refresh_tokens`).
//!
//! Invariants kept here:
//! - a family row and the token row of its `current_jti` are written in one transaction, and
//!   the family row carries that token's expiry (`current_expires_at`, what
//!   `Users::find_in_live_session` checks);
//! - every change to a family row increments `version`, and [`Sessions::save`] only applies
//!   when the stored version is the one the caller loaded (`UPDATE … WHERE id = ? AND
//!   version = ?`); otherwise nothing is written and the answer is [`StoreError::Conflict`], so
//!   of two concurrent refreshes of one token exactly one is stored;
//! - a rotation inserts the successor and retires its predecessor (`revoked`, reason
//!   [`ROTATED`], `replaced_by_jti`); a revocation marks the family and every still-valid token
//!   of it with the family's reason (tokens retired by rotation keep `rotated`).

use crate::entity::{refresh_token, session_family};
use crate::error::{store_error, unreadable};
use crate::instant;
use crate::lost_connection::once_more_if_lost;
use crate::transaction::{begin, finish};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::session::{
    FamilyId, FamilyRecord, IssuedToken, ROTATED, Revocation, RevocationReason, SessionChange,
    SessionFamily, TokenId,
};
use keel_domain::user::UserId;
use keel_ports::{Sessions, StoreError};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    FromQueryResult, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select, Value,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Stored session families on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaSessions {
    db: DatabaseConnection,
}

impl SeaSessions {
    /// Session families stored through `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Sessions for SeaSessions {
    #[tracing::instrument(name = "db.sessions.create", skip_all, fields(otel.kind = "client"))]
    async fn create(&self, family: &SessionFamily) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = insert_family(&txn, family).await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.sessions.find_by_token", skip_all, fields(otel.kind = "client"))]
    async fn find_by_token(&self, jti: TokenId) -> Result<Option<SessionFamily>, StoreError> {
        let issuer = Query::select()
            .column(refresh_token::Column::FamilyId)
            .from(refresh_token::Entity)
            .and_where(Expr::col(refresh_token::Column::Jti).eq(jti.get()))
            .to_owned();
        once_more_if_lost(&self.db, || {
            families()
                .filter(
                    Expr::col((session_family::Entity, session_family::Column::Id))
                        .in_subquery(issuer.clone()),
                )
                .into_model::<FamilyRow>()
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(FamilyRow::into_domain)
        .transpose()
    }

    #[tracing::instrument(name = "db.sessions.find", skip_all, fields(otel.kind = "client"))]
    async fn find(&self, id: FamilyId) -> Result<Option<SessionFamily>, StoreError> {
        once_more_if_lost(&self.db, || {
            families()
                .filter(session_family::Column::Id.eq(id.get()))
                .into_model::<FamilyRow>()
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(FamilyRow::into_domain)
        .transpose()
    }

    #[tracing::instrument(name = "db.sessions.save", skip_all, fields(otel.kind = "client"))]
    async fn save(&self, family: &SessionFamily, change: &SessionChange) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = apply(&txn, family, change).await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.sessions.list_live", skip_all, fields(otel.kind = "client"))]
    async fn list_live(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionFamily>, StoreError> {
        let backend = self.db.get_database_backend();
        once_more_if_lost(&self.db, || {
            families()
                .filter(session_family::Column::UserId.eq(user.get()))
                .filter(session_family::Column::RevokedAt.is_null())
                .filter(
                    Expr::col((refresh_token::Entity, refresh_token::Column::ExpiresAt))
                        .gt(instant::value(backend, now)),
                )
                .order_by_desc(session_family::Column::CreatedAt)
                .order_by_desc(session_family::Column::Id)
                .into_model::<FamilyRow>()
                .all(&self.db)
        })
        .await
        .map_err(store_error)?
        .into_iter()
        .map(FamilyRow::into_domain)
        .collect()
    }

    #[tracing::instrument(name = "db.sessions.revoke_all", skip_all, fields(otel.kind = "client"))]
    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = revoke_families(&txn, user, reason, now).await;
        finish(txn, outcome).await
    }
}

async fn insert_family(
    txn: &DatabaseTransaction,
    family: &SessionFamily,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let record = family.record();
    let row: [Expr; 10] = [
        record.id.get().into(),
        record.user_id.get().into(),
        instant::value(backend, record.created_at).into(),
        instant::value(backend, record.last_used_at).into(),
        Value::String(record.user_agent.clone()).into(),
        instant::optional(backend, record.revocation.map(|r| r.at)).into(),
        reason_value(record.revocation.map(|r| r.reason)).into(),
        record.current.jti.get().into(),
        instant::value(backend, record.current.expires_at).into(),
        record.version.into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(session_family::Entity)
        .columns([
            session_family::Column::Id,
            session_family::Column::UserId,
            session_family::Column::CreatedAt,
            session_family::Column::LastUsedAt,
            session_family::Column::UserAgent,
            session_family::Column::RevokedAt,
            session_family::Column::RevokedReason,
            session_family::Column::CurrentJti,
            session_family::Column::CurrentExpiresAt,
            session_family::Column::Version,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("session_families insert: {err}")))?;
    // A duplicate id is a Conflict, a missing user a Missing.
    txn.execute(&insert).await.map_err(store_error)?;
    let revoked_as = record.revocation.map(|r| r.reason.as_str());
    insert_token(txn, family, &record.current, revoked_as).await
}

/// Inserts the row of `token`, issued by `family`; `revoked_as` marks it revoked already.
async fn insert_token(
    txn: &DatabaseTransaction,
    family: &SessionFamily,
    token: &IssuedToken,
    revoked_as: Option<&str>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let row: [Expr; 8] = [
        family.user_id().get().into(),
        token.jti.get().into(),
        family.id().get().into(),
        revoked_as.is_some().into(),
        Value::String(revoked_as.map(str::to_owned)).into(),
        instant::value(backend, token.expires_at).into(),
        Value::Uuid(token.rotated_from.map(TokenId::get)).into(),
        instant::value(backend, token.issued_at).into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(refresh_token::Entity)
        .columns([
            refresh_token::Column::UserId,
            refresh_token::Column::Jti,
            refresh_token::Column::FamilyId,
            refresh_token::Column::Revoked,
            refresh_token::Column::RevokedReason,
            refresh_token::Column::ExpiresAt,
            refresh_token::Column::RotatedFromJti,
            refresh_token::Column::CreatedAt,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("refresh_tokens insert: {err}")))?;
    // A reused jti is a Conflict.
    txn.execute(&insert).await.map_err(store_error)?;
    Ok(())
}

async fn apply(
    txn: &DatabaseTransaction,
    family: &SessionFamily,
    change: &SessionChange,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let record = family.record();
    let mut update = Query::update();
    update
        .table(session_family::Entity)
        .value(
            session_family::Column::LastUsedAt,
            instant::value(backend, record.last_used_at),
        )
        .value(
            session_family::Column::RevokedAt,
            instant::optional(backend, record.revocation.map(|r| r.at)),
        )
        .value(
            session_family::Column::RevokedReason,
            reason_value(record.revocation.map(|r| r.reason)),
        )
        .value(session_family::Column::CurrentJti, record.current.jti.get())
        .value(
            session_family::Column::CurrentExpiresAt,
            instant::value(backend, record.current.expires_at),
        )
        .value(
            session_family::Column::Version,
            Expr::col(session_family::Column::Version).add(1),
        )
        .and_where(session_family::Column::Id.eq(record.id.get()))
        .and_where(session_family::Column::Version.eq(record.version));
    let updated = txn.execute(&update).await.map_err(store_error)?;
    if updated.rows_affected() == 0 {
        let exists = session_family::Entity::find_by_id(record.id.get())
            .one(txn)
            .await
            .map_err(store_error)?
            .is_some();
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::Missing
        });
    }
    match change {
        SessionChange::Rotated { retired, issued } => {
            insert_token(txn, family, issued, None).await?;
            let mut retire = Query::update();
            retire
                .table(refresh_token::Entity)
                .value(refresh_token::Column::Revoked, true)
                .value(refresh_token::Column::RevokedReason, ROTATED)
                .value(refresh_token::Column::ReplacedByJti, issued.jti.get())
                .and_where(refresh_token::Column::Jti.eq(retired.get()))
                .and_where(refresh_token::Column::FamilyId.eq(record.id.get()));
            let retired_rows = txn.execute(&retire).await.map_err(store_error)?;
            if retired_rows.rows_affected() == 0 {
                return Err(unreadable(format!(
                    "rotated token {retired} is not a token of family {}",
                    record.id
                )));
            }
        }
        SessionChange::Revoked(revocation) => {
            let mut revoke = Query::update();
            revoke
                .table(refresh_token::Entity)
                .value(refresh_token::Column::Revoked, true)
                .value(
                    refresh_token::Column::RevokedReason,
                    revocation.reason.as_str(),
                )
                .and_where(refresh_token::Column::FamilyId.eq(record.id.get()))
                .and_where(refresh_token::Column::Revoked.eq(false));
            txn.execute(&revoke).await.map_err(store_error)?;
        }
    }
    Ok(())
}

pub(crate) async fn revoke_families(
    txn: &DatabaseTransaction,
    user: UserId,
    reason: RevocationReason,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let backend = txn.get_database_backend();
    // Families first: their row locks make a concurrent save of one of them wait, then fail
    // its version check.
    let mut families = Query::update();
    families
        .table(session_family::Entity)
        .value(
            session_family::Column::RevokedAt,
            instant::value(backend, now),
        )
        .value(session_family::Column::RevokedReason, reason.as_str())
        .value(
            session_family::Column::Version,
            Expr::col(session_family::Column::Version).add(1),
        )
        .and_where(session_family::Column::UserId.eq(user.get()))
        .and_where(session_family::Column::RevokedAt.is_null());
    let revoked = txn
        .execute(&families)
        .await
        .map_err(store_error)?
        .rows_affected();
    let of_user = Query::select()
        .column(session_family::Column::Id)
        .from(session_family::Entity)
        .and_where(Expr::col(session_family::Column::UserId).eq(user.get()))
        .to_owned();
    let mut tokens = Query::update();
    tokens
        .table(refresh_token::Entity)
        .value(refresh_token::Column::Revoked, true)
        .value(refresh_token::Column::RevokedReason, reason.as_str())
        .and_where(refresh_token::Column::Revoked.eq(false))
        .and_where(Expr::col(refresh_token::Column::FamilyId).in_subquery(of_user));
    txn.execute(&tokens).await.map_err(store_error)?;
    Ok(revoked)
}

fn reason_value(reason: Option<RevocationReason>) -> Value {
    Value::String(reason.map(|r| r.as_str().to_owned()))
}

/// Families joined with the row of their current token.
fn families() -> Select<session_family::Entity> {
    session_family::Entity::find()
        .column_as(refresh_token::Column::CreatedAt, "token_issued_at")
        .column_as(refresh_token::Column::ExpiresAt, "token_expires_at")
        .column_as(refresh_token::Column::RotatedFromJti, "token_rotated_from")
        .join(
            JoinType::InnerJoin,
            session_family::Relation::CurrentToken.def(),
        )
}

/// One row of [`families`].
#[derive(Debug, FromQueryResult)]
struct FamilyRow {
    id: Uuid,
    user_id: i64,
    created_at: OffsetDateTime,
    last_used_at: OffsetDateTime,
    user_agent: Option<String>,
    revoked_at: Option<OffsetDateTime>,
    revoked_reason: Option<String>,
    current_jti: Uuid,
    version: i64,
    token_issued_at: OffsetDateTime,
    token_expires_at: OffsetDateTime,
    token_rotated_from: Option<Uuid>,
}

impl FamilyRow {
    fn into_domain(self) -> Result<SessionFamily, StoreError> {
        let revocation = match (self.revoked_at, self.revoked_reason) {
            (None, None) => None,
            (Some(at), Some(name)) => Some(Revocation {
                reason: RevocationReason::from_name(&name).ok_or_else(|| {
                    unreadable(format!(
                        "session_families.revoked_reason {name:?} of family {}",
                        self.id
                    ))
                })?,
                at: instant::read(at),
            }),
            _ => {
                return Err(unreadable(format!(
                    "family {} has only one of revoked_at and revoked_reason",
                    self.id
                )));
            }
        };
        Ok(SessionFamily::restore(FamilyRecord {
            id: FamilyId::new(self.id),
            user_id: UserId::new(self.user_id),
            created_at: instant::read(self.created_at),
            last_used_at: instant::read(self.last_used_at),
            user_agent: self.user_agent,
            revocation,
            current: IssuedToken {
                jti: TokenId::new(self.current_jti),
                issued_at: instant::read(self.token_issued_at),
                expires_at: instant::read(self.token_expires_at),
                rotated_from: self.token_rotated_from.map(TokenId::new),
            },
            version: self.version,
        }))
    }
}
