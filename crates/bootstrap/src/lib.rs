//! # keel-bootstrap
//!
//! The composition root shared by keel's binaries: typed configuration ([`config`]), logging
//! set-up ([`logging`]), and the wiring of adapters into use cases and the HTTP server
//! ([`api`]). It is the only crate that knows every adapter.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod logging;

pub use config::{Config, ConfigError, Env};
