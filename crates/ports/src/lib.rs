//! # keel-ports
//!
//! The traits keel's use cases need from the world, one per need: storage of users, posts,
//! votes and sessions, password hashing, token encoding and the clock, and — for the outbox
//! relay — the delivery side of the outbox ([`Outbox`]) and the places events go ([`EventSink`]),
//! the rate limiter's counters ([`RateLimiter`]), and the OAuth / OpenID Connect identity
//! providers ([`IdentityProvider`]) with the identities linked to users ([`OAuthAccounts`]),
//! the flows in progress ([`OAuthFlows`]) and the randomness of their secrets ([`Random`]), and
//! the wake-up that tells the outbox's workers events have committed ([`OutboxWaker`]).
//! Each trait's doc comment is its
//! contract; adapters keep it and tests hold them to it.
//!
//! Ports are object-safe `Send + Sync` traits, held as `Arc<dyn Port>` by the use cases. No
//! transaction crosses a port: every method that changes state commits that change *and its
//! domain events* (the outbox rows) atomically, or nothing.
//!
//! With the `mocks` feature every port has a mockall mock (`MockUsers`, `MockPosts`, …).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod email_tokens;
mod error;
mod hasher;
mod oauth;
mod oauth_accounts;
mod oauth_flows;
mod outbox;
mod posts;
mod random;
mod rate_limit;
mod sessions;
mod sink;
mod tokens;
mod users;
mod votes;
mod waker;
// @new-resource: ports-modules

pub use clock::Clock;
pub use email_tokens::EmailTokens;
pub use error::{BoxError, ErrorChain, StoreError};
pub use hasher::{HashError, PasswordHasher};
pub use oauth::{AuthorizeRequest, CodeExchange, IdentityProvider, ProviderError};
pub use oauth_accounts::{IdentityLink, OAuthAccounts};
pub use oauth_flows::OAuthFlows;
pub use outbox::{Outbox, OutboxStats};
pub use posts::{Author, PostQuery, PostView, Posts};
pub use random::Random;
pub use rate_limit::{RateLimiter, RateLimiterError};
pub use sessions::Sessions;
pub use sink::{DeliveryError, EventSink};
pub use tokens::{AccessClaims, RefreshClaims, TokenCodec, TokenError};
pub use users::Users;
pub use votes::{VoteCast, Votes};
pub use waker::OutboxWaker;
// @new-resource: ports-exports

#[cfg(feature = "mocks")]
pub use clock::MockClock;
#[cfg(feature = "mocks")]
pub use email_tokens::MockEmailTokens;
#[cfg(feature = "mocks")]
pub use hasher::MockPasswordHasher;
#[cfg(feature = "mocks")]
pub use oauth::MockIdentityProvider;
#[cfg(feature = "mocks")]
pub use oauth_accounts::MockOAuthAccounts;
#[cfg(feature = "mocks")]
pub use oauth_flows::MockOAuthFlows;
#[cfg(feature = "mocks")]
pub use outbox::MockOutbox;
#[cfg(feature = "mocks")]
pub use posts::MockPosts;
#[cfg(feature = "mocks")]
pub use random::MockRandom;
#[cfg(feature = "mocks")]
pub use rate_limit::MockRateLimiter;
#[cfg(feature = "mocks")]
pub use sessions::MockSessions;
#[cfg(feature = "mocks")]
pub use sink::MockEventSink;
#[cfg(feature = "mocks")]
pub use tokens::MockTokenCodec;
#[cfg(feature = "mocks")]
pub use users::MockUsers;
#[cfg(feature = "mocks")]
pub use votes::MockVotes;
#[cfg(feature = "mocks")]
pub use waker::MockOutboxWaker;
// @new-resource: ports-mocks
