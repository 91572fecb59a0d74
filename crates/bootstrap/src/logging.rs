//! Process-wide log subscriber: JSON lines (or pretty on a terminal in development) filtered by
//! `RUST_LOG`.

use crate::config::{LogFormat, ObservabilityConfig};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests spawn many apps).
pub fn init(config: &ObservabilityConfig) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_installed = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
