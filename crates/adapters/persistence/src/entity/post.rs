//! `posts`: authored posts with their maintained vote count.

use sea_orm::entity::prelude::*;

/// A `posts` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posts")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 1..=200 characters.
    pub title: String,
    /// 1..=10000 characters.
    pub content: String,
    /// Visible to everyone, or to the owner only.
    pub published: bool,
    /// Creation time.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Time of the last replacement.
    pub updated_at: TimeDateTimeWithTimeZone,
    /// Author (`users.id`, cascade).
    pub owner_id: i64,
    /// Number of `votes` rows of this post, kept by the vote transactions.
    pub votes_count: i64,
}

/// Relations of `posts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The author.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
