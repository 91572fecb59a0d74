//! The registry every metric family of a process lives in, and its text rendering.

use prometheus::{Encoder, Registry, TextEncoder};

/// A metric family could not be registered or the registry could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("metrics")]
pub struct MetricsError(#[from] prometheus::Error);

/// The metrics of one process. Cheap to clone (clones share the registry).
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Registry,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the process metrics (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, `process_open_fds`, `process_start_time_seconds`, …;
    /// Linux only, elsewhere none).
    ///
    /// # Errors
    /// Never in practice (a fresh registry).
    pub fn with_process_metrics() -> Result<Self, MetricsError> {
        let metrics = Self::new();
        #[cfg(target_os = "linux")]
        metrics.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(metrics)
    }

    /// The underlying registry, for registering further families.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every family in the Prometheus text exposition format (version 0.0.4).
    ///
    /// # Errors
    /// [`MetricsError`] when a family cannot be encoded (never for the families of this crate).
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }

    /// The `Content-Type` of [`Metrics::render`]'s output.
    #[must_use]
    pub fn content_type() -> &'static str {
        prometheus::TEXT_FORMAT
    }
}
