//! # keel-auth
//!
//! The credential adapters of keel: [`Argon2Hasher`] implements [`keel_ports::PasswordHasher`]
//! and [`JwtCodec`] implements [`keel_ports::TokenCodec`].
//!
//! What this crate guarantees beyond the port contracts:
//! - password hashes are Argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane), computed
//!   on tokio's blocking pool behind a semaphore, so a burst of logins can neither starve the
//!   async executor nor allocate unbounded memory;
//! - a verification against an unknown account runs a full Argon2id verification too;
//! - tokens are HMAC-signed with one pinned algorithm, and every claim the application relies on
//!   (`sub`, `user_id`, `iss`, `aud`, `iat`, `exp`, `token_type`, and `jti`/`fam` on refresh
//!   tokens) is required, typed and checked exactly; expiry is judged against the caller's
//!   clock, never the system's.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod hasher;
mod jwt;

pub use hasher::{ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, Argon2Hasher};
pub use jwt::{JwtAlgorithm, JwtCodec, JwtConfigError, UnknownAlgorithm};
