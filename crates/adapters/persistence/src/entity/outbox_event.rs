//! `outbox_events`: domain events committed with their change, awaiting delivery.

use sea_orm::entity::prelude::*;

/// An `outbox_events` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    /// Row identity (commit order within one writer).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Idempotency key sent with every delivery, unique.
    #[sea_orm(unique)]
    pub event_key: Uuid,
    /// `DomainEvent::topic`.
    pub topic: String,
    /// The event's JSON payload.
    pub payload: Json,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    /// Failed delivery attempts so far.
    pub attempts: i32,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the event was recorded.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Not to be delivered before this instant.
    pub available_at: TimeDateTimeWithTimeZone,
    /// When delivery completed (or finally failed).
    pub processed_at: Option<TimeDateTimeWithTimeZone>,
    /// Worker holding the lease.
    pub locked_by: Option<String>,
    /// End of the lease.
    pub locked_until: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `outbox_events` (none).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
