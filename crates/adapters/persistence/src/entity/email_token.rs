//! `email_tokens`: one-time mailed tokens, by the hash of the token.

use sea_orm::entity::prelude::*;

/// An `email_tokens` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    /// `BASE64URL(SHA256(token))`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// The account (`users.id`, cascade).
    pub user_id: i64,
    /// `TokenPurpose::as_str`.
    pub purpose: String,
    /// When it stops being accepted.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// Set once spent.
    pub used_at: Option<TimeDateTimeWithTimeZone>,
    /// Issue time.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `email_tokens` (none are navigated).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
