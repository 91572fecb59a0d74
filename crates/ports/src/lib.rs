//! # keel-ports
//!
//! The traits keel's use cases need from the world, one per need: storage of users, posts,
//! votes and sessions, password hashing, token encoding and the clock. Each trait's doc
//! comment is its contract; adapters keep it and tests hold them to it.
//!
//! Ports are object-safe `Send + Sync` traits, held as `Arc<dyn Port>` by the use cases. No
//! transaction crosses a port: every method that changes state commits that change *and its
//! domain events* (the outbox rows) atomically, or nothing.
//!
//! With the `mocks` feature every port has a mockall mock (`MockUsers`, `MockPosts`, …).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod error;
mod hasher;
mod posts;
mod sessions;
mod tokens;
mod users;
mod votes;

pub use clock::Clock;
pub use error::{BoxError, StoreError};
pub use hasher::{HashError, PasswordHasher};
pub use posts::{Author, PostQuery, PostView, Posts};
pub use sessions::Sessions;
pub use tokens::{AccessClaims, RefreshClaims, TokenCodec, TokenError};
pub use users::Users;
pub use votes::Votes;

#[cfg(feature = "mocks")]
pub use clock::MockClock;
#[cfg(feature = "mocks")]
pub use hasher::MockPasswordHasher;
#[cfg(feature = "mocks")]
pub use posts::MockPosts;
#[cfg(feature = "mocks")]
pub use sessions::MockSessions;
#[cfg(feature = "mocks")]
pub use tokens::MockTokenCodec;
#[cfg(feature = "mocks")]
pub use users::MockUsers;
#[cfg(feature = "mocks")]
pub use votes::MockVotes;
