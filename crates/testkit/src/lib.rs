//! # keel-testkit
//!
//! Test support for keel's crates (a dev-dependency only): per-test databases ([`db`]), the servers some tests need ([`services`]) and, with the `app` feature, the running application
//! (`app::TestApp`); with the `oauth-fake` feature, local fake identity providers
//! (`oauth_fake`); with the `collector` feature a local OTLP collector, Sentry and webhook
//! receiver (`collector::Collector`); always, a tiny in-process SMTP sink ([`smtp_sink`]).
#![forbid(unsafe_code)]

#[cfg(feature = "app")]
pub mod app;
#[cfg(feature = "collector")]
pub mod collector;
pub mod db;
pub mod deploy_metrics;
#[cfg(feature = "oauth-fake")]
pub mod oauth_fake;
pub mod services;
pub mod smtp_sink;
