//! The source of randomness for secrets (OAuth states, PKCE verifiers, nonces).

/// Cryptographically secure random bytes. Use cases never call an RNG themselves, so tests
/// control the secrets they produce.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes from the operating system's CSPRNG.
    fn fill(&self, dest: &mut [u8]);
}
