//! `oauth_accounts`: provider identities linked to users, keyed by (provider, issuer, subject).

use sea_orm::entity::prelude::*;

/// An `oauth_accounts` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_accounts")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The user the identity is linked to (one identity per provider and user).
    pub user_id: i64,
    /// The provider's name (`google`, …, `oidc`).
    pub provider: String,
    /// The provider's subject (`sub` or account id).
    pub provider_subject: String,
    /// The email the provider reported when the identity was linked (reference only).
    pub provider_email: Option<String>,
    /// When the identity was linked.
    pub created_at: TimeDateTimeWithTimeZone,
    /// The last sign-in through this identity.
    pub last_login_at: Option<TimeDateTimeWithTimeZone>,
    /// The issuer (`iss`) that vouched for the subject.
    pub provider_issuer: String,
}

/// Relations of `oauth_accounts` (none are navigated from this side).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
