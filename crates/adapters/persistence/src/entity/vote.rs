//! `votes`: one row per (user, post).

use sea_orm::entity::prelude::*;

/// A `votes` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "votes")]
pub struct Model {
    /// Voter (`users.id`, cascade).
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Post voted on (`posts.id`, cascade).
    #[sea_orm(primary_key, auto_increment = false)]
    pub post_id: i64,
    /// When the vote was cast.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `votes` (none are navigated).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
