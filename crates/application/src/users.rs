//! Registration and user lookup.

use crate::account::mail_request;
use keel_domain::email_token::TokenPurpose;
use keel_domain::user::{Email, NewUser, Password, User, UserId};
use keel_ports::{Clock, HashError, PasswordHasher, Random, StoreError, Users};
use std::sync::Arc;
use time::Duration;

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The address belongs to an account already.
    #[error("Email is already registered")]
    EmailAlreadyRegistered,
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RegisterError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::EmailAlreadyRegistered,
            other => Self::Store(other),
        }
    }
}

/// Registers a user with an e-mail address and a password (`POST /users`); the registration
/// stores a verification token and its mail event with the user.
#[derive(Clone)]
pub struct RegisterUser {
    users: Arc<dyn Users>,
    hasher: Arc<dyn PasswordHasher>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    verify_lifetime: Duration,
}

impl RegisterUser {
    /// Wires the use case; verification tokens live `verify_lifetime`.
    pub fn new(
        users: Arc<dyn Users>,
        hasher: Arc<dyn PasswordHasher>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        verify_lifetime: Duration,
    ) -> Self {
        Self {
            users,
            hasher,
            random,
            clock,
            verify_lifetime,
        }
    }

    /// Stores the user (and its `user.created` event).
    ///
    /// # Errors
    /// [`RegisterError::EmailAlreadyRegistered`] when the address is taken, also when a
    /// concurrent registration wins the race.
    #[tracing::instrument(name = "use_case.register_user", skip_all)]
    pub async fn execute(&self, email: Email, password: Password) -> Result<User, RegisterError> {
        // Checked first so a taken address costs no hashing; the unique index still decides races.
        if self.users.find_by_email(&email).await?.is_some() {
            return Err(RegisterError::EmailAlreadyRegistered);
        }
        let password_hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        let verification = mail_request(
            self.random.as_ref(),
            email.clone(),
            TokenPurpose::VerifyEmail,
            now,
            self.verify_lifetime,
        );
        let new = NewUser {
            email,
            password_hash: Some(password_hash),
            email_verified: false,
            verification: Some(verification),
            created_at: now,
        };
        let user = self.users.create(&new).await?;
        tracing::info!(user_id = user.id.get(), "user registered");
        Ok(user)
    }
}

/// Why a user lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    /// No such user.
    #[error("User with id: {0} does not exist")]
    NotFound(UserId),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads one user (`GET /users/{id}`).
#[derive(Clone)]
pub struct GetUser {
    users: Arc<dyn Users>,
}

impl GetUser {
    /// Wires the use case.
    pub fn new(users: Arc<dyn Users>) -> Self {
        Self { users }
    }

    /// The user with this id.
    ///
    /// # Errors
    /// [`GetUserError::NotFound`] when there is none.
    #[tracing::instrument(name = "use_case.get_user", skip_all)]
    pub async fn execute(&self, id: UserId) -> Result<User, GetUserError> {
        self.users.find(id).await?.ok_or(GetUserError::NotFound(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use keel_ports::{MockPasswordHasher, MockUsers};

    fn register(users: MockUsers, hasher: MockPasswordHasher) -> RegisterUser {
        RegisterUser::new(
            Arc::new(users),
            Arc::new(hasher),
            random(),
            fixed_clock(),
            Duration::hours(48),
        )
    }

    #[tokio::test]
    async fn registering_hashes_the_password_and_stores_the_user() {
        let mut users = MockUsers::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        users
            .expect_create()
            .withf(|new| {
                new.email.as_str() == "a@example.com"
                    && new.password_hash == Some(hash())
                    && !new.email_verified
                    && new.verification.as_ref().is_some_and(|v| {
                        v.purpose == TokenPurpose::VerifyEmail
                            && v.email == new.email
                            && v.expires_at == now().plus(Duration::hours(48))
                    })
                    && new.created_at == now()
            })
            .returning(|new| {
                Ok(User {
                    id: UserId::new(1),
                    email: new.email.clone(),
                    password_hash: new.password_hash.clone(),
                    email_verified: new.email_verified,
                    created_at: new.created_at,
                })
            });
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .withf(|p| p.expose() == "password1")
            .returning(|_| Ok(hash()));
        let user = register(users, hasher)
            .execute(email("a@example.com"), password("password1"))
            .await
            .expect("registered");
        assert_eq!(user.id, UserId::new(1));
    }

    #[tokio::test]
    async fn a_taken_address_is_refused_before_hashing() {
        let mut users = MockUsers::new();
        users
            .expect_find_by_email()
            .returning(|_| Ok(Some(user(1))));
        let hasher = MockPasswordHasher::new(); // no expectation: hashing would panic
        let err = register(users, hasher)
            .execute(email("a@example.com"), password("password1"))
            .await
            .expect_err("taken");
        assert!(matches!(err, RegisterError::EmailAlreadyRegistered));
    }

    #[tokio::test]
    async fn losing_the_registration_race_is_a_conflict_not_a_failure() {
        let mut users = MockUsers::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        users
            .expect_create()
            .returning(|_| Err(StoreError::Conflict));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(hash()));
        let err = register(users, hasher)
            .execute(email("a@example.com"), password("password1"))
            .await
            .expect_err("race");
        assert!(matches!(err, RegisterError::EmailAlreadyRegistered));
    }

    #[tokio::test]
    async fn hasher_and_store_failures_surface() {
        let mut users = MockUsers::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|_| Err(HashError("boom".into())));
        let err = register(users, hasher)
            .execute(email("a@example.com"), password("password1"))
            .await
            .expect_err("hash");
        assert!(matches!(err, RegisterError::Hash(_)));

        let mut users = MockUsers::new();
        users
            .expect_find_by_email()
            .returning(|_| Err(unavailable()));
        let err = register(users, MockPasswordHasher::new())
            .execute(email("a@example.com"), password("password1"))
            .await
            .expect_err("store");
        assert!(matches!(
            err,
            RegisterError::Store(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn get_user_finds_or_reports_missing() {
        let mut users = MockUsers::new();
        users
            .expect_find()
            .returning(|id| Ok((id == UserId::new(1)).then(|| user(1))));
        let get = GetUser::new(Arc::new(users));
        assert_eq!(
            get.execute(UserId::new(1)).await.expect("found").id,
            UserId::new(1)
        );
        let err = get.execute(UserId::new(2)).await.expect_err("missing");
        assert!(matches!(err, GetUserError::NotFound(id) if id == UserId::new(2)));
        assert_eq!(err.to_string(), "User with id: 2 does not exist");
    }
}
