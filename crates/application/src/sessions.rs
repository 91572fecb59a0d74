//! The caller's sessions: listing live families and revoking one.

use crate::auth::{Principal, revoke_with_retry};
use keel_domain::Timestamp;
use keel_domain::session::{FamilyId, RevocationReason};
use keel_domain::user::UserId;
use keel_ports::{Clock, Sessions, StoreError};
use std::sync::Arc;

/// One live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// Family identity (what `DELETE /auth/sessions/{id}` takes).
    pub id: FamilyId,
    /// Login time.
    pub created_at: Timestamp,
    /// Last login or refresh.
    pub last_used_at: Timestamp,
    /// Client label given at login.
    pub user_agent: Option<String>,
    /// Whether the caller's access token belongs to this family.
    pub current: bool,
}

/// Lists the caller's live sessions (`GET /auth/sessions`).
#[derive(Clone)]
pub struct ListSessions {
    sessions: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
}

impl ListSessions {
    /// Wires the use case.
    pub fn new(sessions: Arc<dyn Sessions>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    /// Live families of the caller, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.list_sessions", skip_all)]
    pub async fn execute(&self, caller: &Principal) -> Result<Vec<SessionSummary>, StoreError> {
        let families = self
            .sessions
            .list_live(caller.user.id, self.clock.now())
            .await?;
        Ok(families
            .into_iter()
            .map(|family| {
                let record = family.record();
                SessionSummary {
                    id: record.id,
                    created_at: record.created_at,
                    last_used_at: record.last_used_at,
                    user_agent: record.user_agent.clone(),
                    current: caller.family == Some(record.id),
                }
            })
            .collect())
    }
}

/// Why a session revocation failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// No session with this id belongs to the caller.
    #[error("Session {0} does not exist")]
    NotFound(FamilyId),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Revokes one of the caller's sessions (`DELETE /auth/sessions/{id}`).
#[derive(Clone)]
pub struct RevokeSession {
    sessions: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
}

impl RevokeSession {
    /// Wires the use case.
    pub fn new(sessions: Arc<dyn Sessions>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    /// Revokes `id` if it is `user`'s and still live.
    ///
    /// # Errors
    /// [`RevokeSessionError::NotFound`] when it does not exist, is someone else's (no hint that
    /// it exists) or is no longer live.
    #[tracing::instrument(name = "use_case.revoke_session", skip_all)]
    pub async fn execute(&self, user: UserId, id: FamilyId) -> Result<(), RevokeSessionError> {
        let now = self.clock.now();
        match self.sessions.find(id).await? {
            Some(family) if family.user_id() == user && family.is_live(now) => {}
            _ => return Err(RevokeSessionError::NotFound(id)),
        }
        revoke_with_retry(
            self.sessions.as_ref(),
            id,
            RevocationReason::RevokedByUser,
            now,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use keel_domain::session::SessionChange;
    use keel_ports::MockSessions;

    #[tokio::test]
    async fn listing_marks_the_callers_family_as_current() {
        let mut sessions = MockSessions::new();
        sessions
            .expect_list_live()
            .withf(|u, at| *u == UserId::new(1) && *at == now())
            .returning(|_, _| Ok(vec![family(1, 10)]));
        let list = ListSessions::new(Arc::new(sessions), fixed_clock());
        let caller = Principal {
            user: user(1),
            family: Some(family_id(1)),
        };
        let summaries = list.execute(&caller).await.expect("listed");
        assert_eq!(summaries.len(), 1);
        assert!(summaries[0].current);
        assert_eq!(summaries[0].user_agent.as_deref(), Some("test"));
        let other = Principal {
            user: user(1),
            family: Some(family_id(9)),
        };
        assert!(!list.execute(&other).await.expect("listed")[0].current);
    }

    #[tokio::test]
    async fn revoking_ones_own_live_session() {
        let mut sessions = MockSessions::new();
        sessions
            .expect_find()
            .returning(|_| Ok(Some(family(1, 10))));
        sessions
            .expect_save()
            .withf(|_, change| matches!(change, SessionChange::Revoked(r) if r.reason == RevocationReason::RevokedByUser))
            .times(1)
            .returning(|_, _| Ok(()));
        RevokeSession::new(Arc::new(sessions), fixed_clock())
            .execute(UserId::new(1), family_id(1))
            .await
            .expect("revoked");
    }

    #[tokio::test]
    async fn other_users_and_dead_sessions_are_not_found() {
        let mut sessions = MockSessions::new();
        sessions.expect_find().returning(|id| {
            if id == family_id(1) {
                Ok(Some(family(2, 10)))
            } else if id == family_id(2) {
                let mut f = family(1, 10);
                f.revoke(RevocationReason::Logout, now());
                Ok(Some(f))
            } else {
                Ok(None)
            }
        });
        let revoke = RevokeSession::new(Arc::new(sessions), fixed_clock());
        for id in [family_id(1), family_id(2), family_id(3)] {
            let err = revoke
                .execute(UserId::new(1), id)
                .await
                .expect_err("not found");
            assert!(matches!(err, RevokeSessionError::NotFound(found) if found == id));
        }
    }
}
