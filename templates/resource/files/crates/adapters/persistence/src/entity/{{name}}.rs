//! `{{plural}}`: {{humans}} with their owner.

use sea_orm::entity::prelude::*;

/// A `{{plural}}` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "{{plural}}")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 1..=200 characters.
    pub name: String,
    /// 0..=2000 characters.
    pub description: String,
    /// Owner (`users.id`, cascade).
    pub owner_id: i64,
    /// Creation time.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Time of the last replacement.
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of `{{plural}}`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner.
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
