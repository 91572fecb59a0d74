//! # keel-bench
//!
//! keel's benchmarks that are not HTTP load tests (those live in `bench/` at the repository
//! root, see `docs/performance.md`). This crate owns:
//! - `benches/hot_paths.rs`: criterion micro-benchmarks of the pure paths every request or
//!   login runs (JWT issue and verification, the rate-limit counter key, problem+json
//!   rendering, the refresh-token rotation decision). `cargo bench -p keel-bench` measures them
//!   (release profile); `cargo test -p keel-bench --benches` runs each once in the debug
//!   profile (the CI smoke);
//! - the `argon2-cpu` probe: the CPU time of one Argon2id hash with the parameters of
//!   [`keel_auth::Argon2Hasher`], which bounds login throughput (`cores / CPU per hash`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use std::time::{Duration, Instant};

/// The Argon2id instance of [`keel_auth::Argon2Hasher`]: same algorithm, version and
/// parameters.
///
/// # Errors
/// When argon2 refuses the parameters (it does not for keel's constants).
pub fn keel_argon2() -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(
        keel_auth::ARGON2_M_COST_KIB,
        keel_auth::ARGON2_T_COST,
        keel_auth::ARGON2_P_COST,
        None,
    )?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// CPU time consumed so far by the calling thread, from `/proc/thread-self/schedstat` (Linux;
/// nanosecond resolution). `None` where that file does not exist.
#[must_use]
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// What [`measure_hashes`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HashCost {
    /// Hashes computed.
    pub hashes: u32,
    /// CPU time of the hashing thread per hash (wall time where CPU time is unavailable).
    pub cpu_per_hash: Duration,
    /// Wall time per hash (higher than the CPU time when the machine is busy).
    pub wall_per_hash: Duration,
}

/// Hashes a password `hashes` times on the calling thread with keel's Argon2id parameters and
/// returns the cost of one hash.
///
/// # Errors
/// When a hash fails (it does not with keel's parameters).
pub fn measure_hashes(hashes: u32) -> Result<HashCost, argon2::password_hash::Error> {
    let argon2 = keel_argon2().map_err(argon2::password_hash::Error::from)?;
    let hashes = hashes.max(1);
    let (cpu0, wall0) = (thread_cpu_time(), Instant::now());
    for _ in 0..hashes {
        std::hint::black_box(argon2.hash_password(b"bench-password")?);
    }
    let wall = wall0.elapsed();
    let cpu = match (cpu0, thread_cpu_time()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall,
    };
    Ok(HashCost {
        hashes,
        cpu_per_hash: cpu / hashes,
        wall_per_hash: wall / hashes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_uses_the_hashers_parameters() {
        let argon2 = keel_argon2().expect("keel's parameters are valid");
        let params = argon2.params();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn hashing_costs_cpu_time() {
        let cost = measure_hashes(1).expect("hashing works");
        assert_eq!(cost.hashes, 1);
        assert!(cost.cpu_per_hash > Duration::ZERO);
        assert!(cost.wall_per_hash > Duration::ZERO);
        if thread_cpu_time().is_some() {
            // Argon2id over 19 MiB takes milliseconds, never microseconds.
            assert!(cost.cpu_per_hash > Duration::from_micros(500), "{cost:?}");
        }
    }
}
