//! Argon2id password hashing, off the async executor.
//!
//! Owns the stored password format (PHC strings, Argon2id v19 with the OWASP parameters) and
//! keeps two promises of [`PasswordHasher`]:
//! - the work never runs on an async worker thread: it runs on tokio's blocking pool, and a
//!   semaphore bounds how many hashes run at once (each one holds 19 MiB);
//! - a verification without a stored hash (unknown account) runs one full Argon2id verification
//!   against a hash computed at construction, so its cost matches a wrong password's.

use argon2::password_hash::Error as PhcError;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash as Phc, PasswordHasher as _, PasswordVerifier as _,
    Version,
};
use async_trait::async_trait;
use keel_domain::user::{Password, PasswordHash};
use keel_ports::{HashError, PasswordHasher};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Argon2id memory cost in KiB (19 MiB, OWASP).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id passes over memory (OWASP).
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes (OWASP).
pub const ARGON2_P_COST: u32 = 1;

/// What the dummy hash is a hash of. Its value does not matter: a match against the dummy is
/// never reported as success.
const DUMMY_PASSWORD: &[u8] = b"keel: verification for an account without a password";

/// Argon2id [`PasswordHasher`] running on tokio's blocking pool.
///
/// Cheap to clone: clones share the concurrency bound.
#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    max_concurrent: NonZeroUsize,
    /// A hash of [`DUMMY_PASSWORD`] with this hasher's parameters, verified against when there is
    /// no stored hash.
    dummy: Arc<Phc>,
}

impl Argon2Hasher {
    /// A hasher that runs at most `max_concurrent` hashes or verifications at once; further
    /// calls wait (asynchronously) for a slot. `None` means the machine's available
    /// parallelism: one hash per core, so the blocking pool never oversubscribes the CPUs.
    ///
    /// Computes the dummy hash on the calling thread (one Argon2id run): build the hasher once,
    /// at start-up.
    ///
    /// # Errors
    /// [`HashError`] when the parameters are refused or the system random source fails.
    pub fn new(max_concurrent: Option<NonZeroUsize>) -> Result<Self, HashError> {
        let max_concurrent = max_concurrent
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
        let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
            .map_err(|e| HashError(format!("invalid argon2id parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = argon2
            .hash_password(DUMMY_PASSWORD)
            .map_err(|e| HashError(format!("computing the dummy argon2id hash failed: {e}")))?;
        let permits = max_concurrent.get().min(Semaphore::MAX_PERMITS);
        Ok(Self {
            argon2,
            permits: Arc::new(Semaphore::new(permits)),
            max_concurrent,
            dummy: Arc::new(dummy),
        })
    }

    /// How many hashes or verifications may run at once.
    #[must_use]
    pub fn max_concurrent(&self) -> NonZeroUsize {
        self.max_concurrent
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce(&Argon2<'static>) -> Result<T, HashError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError("the password hashing pool is closed".to_owned()))?;
        // Polled outside a tokio runtime, `spawn_blocking` would panic; an error is kinder.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| HashError(format!("password hashing needs a tokio runtime: {e}")))?;
        let argon2 = self.argon2.clone();
        runtime
            .spawn_blocking(move || {
                // The permit moves into the task: if the caller stops waiting, the hash still
                // runs to its end and keeps counting against the bound until then.
                let _permit = permit;
                work(&argon2)
            })
            .await
            .map_err(|e| HashError(format!("the password hashing task failed: {e}")))?
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("algorithm", &"argon2id")
            .field("m_cost_kib", &ARGON2_M_COST_KIB)
            .field("t_cost", &ARGON2_T_COST)
            .field("p_cost", &ARGON2_P_COST)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

/// Parses a stored hash, refusing anything that cannot be verified against.
fn parse_stored(stored: &PasswordHash) -> Result<Phc, HashError> {
    let phc = Phc::new(stored.as_str())
        .map_err(|e| HashError(format!("the stored password hash is not a PHC string: {e}")))?;
    if phc.salt.is_none() || phc.hash.is_none() {
        // Verifying would report a mismatch, hiding the broken row behind "wrong password".
        return Err(HashError(
            "the stored password hash has no salt or no output".to_owned(),
        ));
    }
    Ok(phc)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        // The copy that crosses to the blocking pool is wiped when dropped.
        let secret = SecretString::from(password.expose());
        self.run(move |argon2| {
            argon2
                .hash_password(secret.expose_secret().as_bytes())
                .map(|phc| PasswordHash::new(phc.to_string()))
                .map_err(|e| HashError(format!("argon2id hashing failed: {e}")))
        })
        .await
    }

    async fn verify(&self, candidate: &str, hash: Option<PasswordHash>) -> Result<bool, HashError> {
        let (target, account_has_hash) = match &hash {
            Some(stored) => (parse_stored(stored)?, true),
            None => (Phc::clone(&self.dummy), false),
        };
        let candidate = SecretString::from(candidate);
        let matched = self
            .run(move |argon2| {
                // The parameters come from the stored hash, so hashes made with older
                // parameters keep verifying.
                match argon2.verify_password(candidate.expose_secret().as_bytes(), &target) {
                    Ok(()) => Ok(true),
                    Err(PhcError::PasswordInvalid) => Ok(false),
                    Err(e) => Err(HashError(format!(
                        "cannot verify against the stored password hash: {e}"
                    ))),
                }
            })
            .await?;
        Ok(account_has_hash && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn hasher() -> Argon2Hasher {
        Argon2Hasher::new(NonZeroUsize::new(2)).expect("hasher")
    }

    fn password(raw: &str) -> Password {
        Password::parse(raw).expect("valid password")
    }

    fn assert_owasp_argon2id(phc: &Phc) {
        assert_eq!(phc.algorithm.as_str(), "argon2id");
        assert_eq!(phc.version, Some(0x13));
        let params = Params::try_from(phc).expect("argon2 parameters");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
        assert!(phc.salt.is_some() && phc.hash.is_some());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = hasher();
        let hash = hasher
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert!(
            hasher
                .verify("correct horse battery", Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("correct horse battery ", Some(hash))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn hashes_are_owasp_argon2id_phc_strings_with_fresh_salts() {
        let hasher = hasher();
        let first = hasher.hash(&password("same password")).await.expect("hash");
        let second = hasher.hash(&password("same password")).await.expect("hash");
        assert!(
            first
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert_owasp_argon2id(&Phc::new(first.as_str()).expect("phc"));
        assert_ne!(first, second, "each hash has its own salt");
    }

    #[tokio::test]
    async fn verifying_without_a_stored_hash_is_false_even_for_the_dummy_password() {
        let hasher = hasher();
        assert!(
            !hasher
                .verify("anything at all", None)
                .await
                .expect("verify")
        );
        let dummy = std::str::from_utf8(DUMMY_PASSWORD).expect("utf-8");
        assert!(!hasher.verify(dummy, None).await.expect("verify"));
    }

    #[test]
    fn the_dummy_path_verifies_against_a_real_owasp_argon2id_hash() {
        let hasher = hasher();
        // Same algorithm and parameters as real hashes, and a genuine hash of the dummy
        // password: so verify(None) does the same Argon2id work as a wrong password does.
        assert_owasp_argon2id(&hasher.dummy);
        assert!(
            hasher
                .argon2
                .verify_password(DUMMY_PASSWORD, hasher.dummy.as_ref())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_still_verify() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).expect("params"),
        );
        let old = weak.hash_password(b"legacy password").expect("hash");
        let stored = PasswordHash::new(old.to_string());
        let hasher = hasher();
        assert!(
            hasher
                .verify("legacy password", Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("other password", Some(stored))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn unreadable_stored_hashes_are_errors_not_mismatches() {
        let hasher = hasher();
        for stored in [
            "",
            "not a phc string",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$argon2id$v=19$m=zero,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhh",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhh",
        ] {
            let result = hasher
                .verify("password", Some(PasswordHash::new(stored.to_owned())))
                .await;
            assert!(result.is_err(), "{stored:?} should be an error");
        }
    }

    #[tokio::test]
    async fn calls_beyond_the_bound_wait_for_a_slot_instead_of_failing() {
        let hasher = Argon2Hasher::new(Some(NonZeroUsize::MIN)).expect("hasher");
        assert_eq!(hasher.max_concurrent(), NonZeroUsize::MIN);
        let hash = hasher.hash(&password("password one")).await.expect("hash");
        let (a, b, c) = tokio::join!(
            hasher.verify("password one", Some(hash.clone())),
            hasher.verify("password two", Some(hash)),
            hasher.verify("password one", None),
        );
        assert_eq!(
            (a.expect("a"), b.expect("b"), c.expect("c")),
            (true, false, false)
        );
        assert_eq!(hasher.permits.available_permits(), 1);
    }

    #[test]
    fn outside_a_tokio_runtime_hashing_is_an_error_not_a_panic() {
        let hasher = hasher();
        let mut verification = pin!(hasher.verify("password", None));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            verification.as_mut().poll(&mut cx),
            Poll::Ready(Err(_))
        ));
    }

    #[test]
    fn the_default_bound_is_the_available_parallelism() {
        let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        let hasher = Argon2Hasher::new(None).expect("hasher");
        assert_eq!(hasher.max_concurrent(), cores);
        assert_eq!(hasher.permits.available_permits(), cores.get());
    }

    #[test]
    fn debug_output_names_the_parameters_only() {
        let shown = format!("{:?}", hasher());
        assert!(shown.contains("argon2id") && shown.contains("19456"));
        assert!(!shown.contains('$'));
    }
}
