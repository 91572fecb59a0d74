//! `refresh_tokens`: every refresh token ever issued, current or retired.

use sea_orm::entity::prelude::*;

/// A `refresh_tokens` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Row identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owner (`users.id`, cascade).
    pub user_id: i64,
    /// The token's `jti`, unique.
    #[sea_orm(unique)]
    pub jti: Uuid,
    /// Its family (`session_families.id`, cascade).
    pub family_id: Uuid,
    /// No longer accepted.
    pub revoked: bool,
    /// `rotated`, or the family's revocation reason.
    pub revoked_reason: Option<String>,
    /// When it stops being accepted.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// The token it replaced.
    pub rotated_from_jti: Option<Uuid>,
    /// The token that replaced it.
    pub replaced_by_jti: Option<Uuid>,
    /// Issue time.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `refresh_tokens` (none are navigated from this side).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
