//! `session_families`: one row per login, versioned for optimistic concurrency.

use sea_orm::entity::prelude::*;

/// A `session_families` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_families")]
pub struct Model {
    /// Identity (the `fam` claim).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owner (`users.id`, cascade).
    pub user_id: i64,
    /// Login time.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Last successful refresh (or the login).
    pub last_used_at: TimeDateTimeWithTimeZone,
    /// Client description at login.
    pub user_agent: Option<String>,
    /// Set once revoked.
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    /// `RevocationReason::as_str` of the revocation.
    pub revoked_reason: Option<String>,
    /// `jti` of the token the family accepts (a `refresh_tokens` row of this family).
    pub current_jti: Uuid,
    /// Expiry of the `current_jti` token, written with it (the session's liveness check reads
    /// it here instead of joining `refresh_tokens`).
    pub current_expires_at: TimeDateTimeWithTimeZone,
    /// Incremented by every change; a save names the version it loaded.
    pub version: i64,
}

/// Relations of `session_families`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The token row of `current_jti`.
    #[sea_orm(
        belongs_to = "super::refresh_token::Entity",
        from = "Column::CurrentJti",
        to = "super::refresh_token::Column::Jti"
    )]
    CurrentToken,
}

impl ActiveModelBehavior for ActiveModel {}
