//! Stored {{humans}}.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::paging::Page;
use keel_domain::{{name}}::{New{{Name}}, {{Name}}, {{Name}}Id};

/// Stored {{humans}}.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait {{Plural}}: Send + Sync {
    /// Stores `new` and the events [`New{{Name}}::events`] emits for its new id, atomically.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when the owner does not exist.
    async fn create(&self, new: &New{{Name}}) -> Result<{{Name}}, StoreError>;

    /// The {{human}} with this id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find(&self, id: {{Name}}Id) -> Result<Option<{{Name}}>, StoreError>;

    /// {{Humans}}, newest first (ties: higher id first), sliced by `page`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, page: Page) -> Result<Vec<{{Name}}>, StoreError>;

    /// Stores the replaced state of `{{name}}` and `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Missing`] when the {{human}} no longer exists.
    async fn replace(&self, {{name}}: &{{Name}}, events: &[DomainEvent]) -> Result<(), StoreError>;

    /// Deletes the {{human}} and stores `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Missing`] when the {{human}} no longer exists.
    async fn delete(&self, id: {{Name}}Id, events: &[DomainEvent]) -> Result<(), StoreError>;
}
