//! `users`: accounts, one per normalised e-mail address.

use sea_orm::entity::prelude::*;

/// A `users` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Trimmed, lower-cased, unique.
    #[sea_orm(unique)]
    pub email: String,
    /// PHC string; `None` for accounts created through OAuth.
    pub password_hash: Option<String>,
    /// Whether the address is proven to be the owner's.
    pub email_verified: bool,
    /// Registration time.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `users` (none are navigated from this side).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
