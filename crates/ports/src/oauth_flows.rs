//! Server-side storage of OAuth flows in progress, keyed by their single-use state.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::oauth::{OAuthFlow, StateToken};

/// Flows in progress (Redis when configured, else the database).
///
/// Contract: a flow can be taken at most once — [`OAuthFlows::take`] removes it atomically, so
/// of two concurrent callbacks with one state at most one gets the flow, and a replay finds
/// nothing. A flow need not be returned after its `expires_at` (stores may expire it), and
/// callers check the expiry themselves.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuthFlows: Send + Sync {
    /// Stores `flow` under `state` until `flow.expires_at`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the state is taken (random states never collide in
    /// practice); [`StoreError::Unavailable`] when the store cannot be reached.
    async fn put(&self, state: &StateToken, flow: &OAuthFlow) -> Result<(), StoreError>;

    /// Removes and returns the flow stored under `state`, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store cannot be reached.
    async fn take(&self, state: &StateToken) -> Result<Option<OAuthFlow>, StoreError>;
}
