//! Argon2id password hashing, off the async executor.
//!
//! Owns the stored password format (PHC strings, Argon2id v19 with the OWASP parameters) and
//! keeps two promises of [`PasswordHasher`]:
//! - the work never runs on an async worker thread: it runs on the hasher's own threads, one
//!   per permitted concurrent hash, and a semaphore bounds how many hashes are queued or
//!   running at once, so callers beyond the bound wait asynchronously;
//! - a verification without a stored hash (unknown account) runs one full Argon2id verification
//!   against a hash computed at construction, so its cost matches a wrong password's.
//!
//! Memory: each hash needs 19 MiB of Argon2 working memory. Letting argon2 allocate and free it
//! per hash (its `hash_password` / `verify_password`) made the process's RSS climb to 380 MiB
//! under a login load: the allocator keeps freed 19 MiB blocks in per-thread arenas and spreads
//! them over several arenas. So each hashing thread owns its working memory, allocated at its
//! first hash and reused by every later one (`hash_password_into_with_memory`): the hasher
//! holds at most `max_concurrent × 19 MiB`, however many logins arrive
//! (`docs/performance.md`). A stored hash with larger parameters than keel's is verified in
//! memory allocated for that one verification.

use argon2::password_hash::Error as PhcError;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash as Phc, PasswordHasher as _, Version};
use async_trait::async_trait;
use keel_domain::user::{Password, PasswordHash};
use keel_ports::{HashError, PasswordHasher};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Semaphore, oneshot};

/// Argon2id memory cost in KiB (19 MiB, OWASP).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id passes over memory (OWASP).
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes (OWASP).
pub const ARGON2_P_COST: u32 = 1;

/// What the dummy hash is a hash of. Its value does not matter: a match against the dummy is
/// never reported as success.
const DUMMY_PASSWORD: &[u8] = b"keel: verification for an account without a password";

/// Work for a hashing thread: the hasher's Argon2id instance and the thread's working memory.
type Job = Box<dyn FnOnce(&Argon2<'static>, &mut Memory) + Send>;

/// The Argon2 working memory of one hashing thread, reused by every hash it computes.
struct Memory {
    blocks: Vec<Block>,
    /// The most blocks kept: keel's own parameters' block count.
    keep: usize,
}

impl Memory {
    /// Computes `argon2` of `password` and `salt` into `out` in this memory (or, for
    /// parameters larger than keel's, in memory allocated for this call).
    fn hash_into(
        &mut self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let count = argon2.params().block_count();
        if count > self.keep {
            return argon2.hash_password_into(password, salt, out);
        }
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut self.blocks[..count])
    }
}

/// Argon2id [`PasswordHasher`] running on its own threads.
///
/// Cheap to clone: clones share the threads and the concurrency bound. The threads stop when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Argon2Hasher {
    jobs: mpsc::Sender<Job>,
    permits: Arc<Semaphore>,
    max_concurrent: NonZeroUsize,
    /// A hash of [`DUMMY_PASSWORD`] with this hasher's parameters, verified against when there is
    /// no stored hash.
    dummy: Arc<Phc>,
}

impl Argon2Hasher {
    /// A hasher that runs at most `max_concurrent` hashes or verifications at once, on as many
    /// threads of its own; further calls wait (asynchronously) for a slot. `None` means the
    /// machine's available parallelism: one hash per core, so hashing never oversubscribes the
    /// CPUs.
    ///
    /// Computes the dummy hash on the calling thread (one Argon2id run): build the hasher once,
    /// at start-up.
    ///
    /// # Errors
    /// [`HashError`] when the parameters are refused, the system random source fails or the
    /// threads cannot be started.
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
        let jobs = spawn_threads(&argon2, permits)?;
        Ok(Self {
            jobs,
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

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce(&Argon2<'static>, &mut Memory) -> Result<T, HashError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError("the password hashing pool is closed".to_owned()))?;
        let (done, outcome) = oneshot::channel();
        let job: Job = Box::new(move |argon2, memory| {
            // The permit moves into the job: if the caller stops waiting, the hash still runs
            // to its end and keeps counting against the bound until then (nobody reads the
            // result). It is released before the result is sent, so a caller that has its
            // result sees the slot free again.
            let outcome = work(argon2, memory);
            drop(permit);
            let _ = done.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| HashError("the password hashing threads have stopped".to_owned()))?;
        outcome
            .await
            .map_err(|_| HashError("the password hashing task failed".to_owned()))?
    }
}

/// Starts `count` hashing threads taking jobs from one queue; they stop when the returned
/// sender (and every clone of it) is dropped.
fn spawn_threads(argon2: &Argon2<'static>, count: usize) -> Result<mpsc::Sender<Job>, HashError> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for index in 0..count {
        let queue = Arc::clone(&queue);
        let argon2 = argon2.clone();
        let mut memory = Memory {
            blocks: Vec::new(),
            keep: argon2.params().block_count(),
        };
        std::thread::Builder::new()
            .name(format!("keel-argon2-{index}"))
            .spawn(move || {
                loop {
                    // The lock is held while waiting for a job, never while hashing.
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(&argon2, &mut memory),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| HashError(format!("starting a password hashing thread failed: {e}")))?;
    }
    Ok(jobs)
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
        self.run(move |argon2, memory| {
            let salt = argon2::password_hash::try_generate_salt()
                .map_err(|e| HashError(format!("generating a salt failed: {e}")))?;
            let phc = compute(argon2, memory, secret.expose_secret().as_bytes(), &salt)
                .map_err(|e| HashError(format!("argon2id hashing failed: {e}")))?;
            Ok(PasswordHash::new(phc.to_string()))
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
            .run(move |_, memory| {
                // The parameters come from the stored hash, so hashes made with older
                // parameters keep verifying.
                match verify(memory, candidate.expose_secret().as_bytes(), &target) {
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

/// The PHC hash of `password` with `salt` under `argon2`, computed in `memory` (what
/// `argon2`'s `hash_password_with_salt` computes, without allocating the working memory).
fn compute(
    argon2: &Argon2<'_>,
    memory: &mut Memory,
    password: &[u8],
    salt: &[u8],
) -> Result<Phc, PhcError> {
    let salt = Salt::new(salt)?;
    let length = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut buffer = [0_u8; Output::MAX_LENGTH];
    let out = buffer.get_mut(..length).ok_or(PhcError::OutputSize)?;
    memory.hash_into(argon2, password, &salt, out)?;
    Ok(Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(Output::new(out)?),
    })
}

/// Whether `password` matches `stored` (what `argon2`'s `verify_password` decides, with the
/// stored hash's own algorithm, version and parameters, in `memory`): `Ok` on a match,
/// [`PhcError::PasswordInvalid`] on a mismatch, another error for an unusable hash.
fn verify(memory: &mut Memory, password: &[u8], stored: &Phc) -> Result<(), PhcError> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Err(PhcError::PasswordInvalid);
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str())?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(stored)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut buffer = [0_u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or(PhcError::OutputSize)?;
    memory.hash_into(&argon2, password, salt.as_ref(), out)?;
    // `Output`'s equality is constant-time.
    if Output::new(out)? == *expected {
        Ok(())
    } else {
        Err(PhcError::PasswordInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier as _;
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
            Argon2::default()
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
    fn hashing_needs_no_tokio_runtime() {
        let hasher = hasher();
        let mut verification = pin!(hasher.verify("password", None));
        let mut cx = Context::from_waker(Waker::noop());
        let started = std::time::Instant::now();
        let outcome = loop {
            if let Poll::Ready(outcome) = verification.as_mut().poll(&mut cx) {
                break outcome;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no result"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(!outcome.expect("a verification against the dummy hash"));
    }

    #[test]
    fn the_reused_memory_computes_what_argon2_computes() {
        let params =
            Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None).expect("params");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut memory = Memory {
            blocks: Vec::new(),
            keep: argon2.params().block_count(),
        };
        let salt = [7_u8; 16];
        let ours = compute(&argon2, &mut memory, b"pass word", &salt).expect("hash");
        let theirs = argon2
            .hash_password_with_salt(b"pass word", &salt)
            .expect("hash");
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(argon2.verify_password(b"pass word", &ours).is_ok());
        assert_eq!(verify(&mut memory, b"pass word", &theirs), Ok(()));
        assert_eq!(
            verify(&mut memory, b"pass word!", &theirs),
            Err(PhcError::PasswordInvalid)
        );
        // The memory is kept for the next hash, at keel's size, and never grows past it.
        assert_eq!(memory.blocks.len(), 19_456);
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(ARGON2_M_COST_KIB * 2, 1, 1, None).expect("params"),
        );
        let stored = big.hash_password_with_salt(b"big", &salt).expect("hash");
        assert_eq!(verify(&mut memory, b"big", &stored), Ok(()));
        assert_eq!(memory.blocks.len(), 19_456);
    }

    fn thread_name() -> Result<String, HashError> {
        Ok(std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned())
    }

    #[tokio::test]
    async fn the_same_few_threads_do_every_hash() {
        let hasher = Argon2Hasher::new(NonZeroUsize::new(2)).expect("hasher");
        let hash = hasher.hash(&password("password one")).await.expect("hash");
        let mut names = std::collections::HashSet::new();
        for _ in 0..3 {
            let (a, b, c, d, e) = tokio::join!(
                hasher.verify("password one", Some(hash.clone())),
                hasher.verify("password two", Some(hash.clone())),
                hasher.run(|_, _| thread_name()),
                hasher.run(|_, _| thread_name()),
                hasher.run(|_, _| thread_name()),
            );
            assert_eq!((a.expect("a"), b.expect("b")), (true, false));
            names.extend([c.expect("c"), d.expect("d"), e.expect("e")]);
        }
        assert!(names.len() <= 2, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("keel-argon2-")),
            "{names:?}"
        );
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
