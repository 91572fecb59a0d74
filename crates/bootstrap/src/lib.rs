//! # keel-bootstrap
//!
//! The composition root shared by keel's binaries: typed configuration ([`config`]), logs,
//! traces and error reporting ([`logging`]), the HTTP adapter's metrics/tracing hooks
//! ([`telemetry`]), and the wiring of adapters into use cases and the HTTP server
//! ([`api`]), and of the outbox relay with its sinks ([`worker`]). It is the only crate that
//! knows every adapter.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod logging;
pub mod telemetry;
pub mod worker;

pub use config::{Config, ConfigError, Env};

/// Makes rustls's *ring* provider the process-wide TLS default (idempotent). Call it before
/// building any HTTPS client: the workspace builds reqwest without a provider of its own.
pub fn install_crypto_provider() {
    keel_webhook::install_crypto_provider();
}
