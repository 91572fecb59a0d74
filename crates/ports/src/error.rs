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
