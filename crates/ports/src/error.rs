//! The failure vocabulary shared by the storage ports.

/// A boxed error kept as the `source` of an opaque failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a storage call failed.
///
/// `Conflict` and `Missing` are expected outcomes of races and duplicates, which use cases turn
/// into domain answers (409, 404) — never into a 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule or an optimistic version check refused the change: another request
    /// got there first.
    #[error("the change conflicts with a concurrent or existing one")]
    Conflict,
    /// A row the change refers to does not exist (any more).
    #[error("a row the change refers to does not exist")]
    Missing,
    /// The store could not be reached (pool exhausted, connection refused, timeout).
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data.
    #[error("unexpected store failure")]
    Unexpected(#[source] BoxError),
}

/// Displays an error with its whole `source` chain, `: `-separated: what an operator needs in a
/// log line or in an outbox event's `last_error`. (Error messages in keel never repeat their
/// source, so each cause appears once.)
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn a_chain_lists_every_cause_once() {
        let io = std::io::Error::other("connection refused");
        let error = StoreError::Unavailable(Box::new(io));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "the store is unavailable: connection refused"
        );
    }
}
