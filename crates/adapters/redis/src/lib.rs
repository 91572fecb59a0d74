//! # keel-redis
//!
//! Redis for keel: the connection pool ([`connect`], [`ping`]) and the rate limiter's two
//! implementations of [`keel_ports::RateLimiter`] — [`RedisRateLimiter`] (one Lua script, one
//! round trip per request, shared by every replica) and [`InProcessRateLimiter`] (the fallback
//! when `REDIS_URL` is unset: one process, bounded memory).
//!
//! The pool connects lazily: creating it never touches the network, so `api` starts while
//! Redis is down, and a Redis that comes back is used again without a restart.
//!
//! OAuth flows in progress live in Redis when it is configured: [`RedisOAuthFlows`]
//! (single-use `GETDEL`, expiry by `EX`).
//!
//! The outbox worker's `redis` sink, [`stream::RedisStreamSink`], appends events to a stream.
#![forbid(unsafe_code)]

mod limiter;
mod memory;
mod oauth_flows;
mod pool;
pub mod stream;

pub use limiter::RedisRateLimiter;
pub use memory::InProcessRateLimiter;
pub use oauth_flows::RedisOAuthFlows;
pub use pool::{Pool, RedisError, TIMEOUT, connect, ping};
