//! `oauth_flows`: OAuth flows in progress, keyed by the hash of their state.

use sea_orm::entity::prelude::*;

/// An `oauth_flows` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_flows")]
pub struct Model {
    /// `BASE64URL(SHA256(state))`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_key: String,
    /// The provider the state was issued for.
    pub provider: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The signed-in user of a linking flow.
    pub link_user_id: Option<i64>,
    /// Whether the callback redirects to the frontend.
    pub redirect_to_frontend: bool,
    /// The digest of the browser binding.
    pub binding_digest: String,
    /// When the state stops being accepted.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// When the flow started.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `oauth_flows` (none are navigated from this side).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
