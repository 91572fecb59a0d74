//! {{Humans}}: listing and reading them, creating, replacing and deleting one's own.

use keel_domain::paging::Page;
use keel_domain::user::{User, UserId};
use keel_domain::{{name}}::{New{{Name}}, {{Name}}, {{Name}}Draft, {{Name}}Id};
use keel_ports::{Clock, StoreError, {{Plural}}};
use std::sync::Arc;

/// Why {{a_human}} operation failed.
#[derive(Debug, thiserror::Error)]
pub enum {{Name}}Error {
    /// No {{human}} with this id.
    #[error("{{human}} {0} does not exist")]
    NotFound({{Name}}Id),
    /// The caller does not own the {{human}}.
    #[error("Not authorized to perform requested action")]
    NotOwner({{Name}}Id),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for {{Name}}Error {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Reads a page of {{humans}} (`GET /{{plural}}`).
#[derive(Clone)]
pub struct List{{Plural}} {
    {{plural}}: Arc<dyn {{Plural}}>,
}

impl List{{Plural}} {
    /// Wires the use case.
    pub fn new({{plural}}: Arc<dyn {{Plural}}>) -> Self {
        Self { {{plural}} }
    }

    /// {{Humans}} newest first, sliced by `page`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.list_{{plural}}", skip_all)]
    pub async fn execute(&self, page: Page) -> Result<Vec<{{Name}}>, StoreError> {
        self.{{plural}}.list(page).await
    }
}

/// Reads one {{human}} (`GET /{{plural}}/{id}`).
#[derive(Clone)]
pub struct Get{{Name}} {
    {{plural}}: Arc<dyn {{Plural}}>,
}

impl Get{{Name}} {
    /// Wires the use case.
    pub fn new({{plural}}: Arc<dyn {{Plural}}>) -> Self {
        Self { {{plural}} }
    }

    /// The {{human}} with this id.
    ///
    /// # Errors
    /// [`{{Name}}Error::NotFound`] when it does not exist.
    #[tracing::instrument(name = "use_case.get_{{name}}", skip_all)]
    pub async fn execute(&self, id: {{Name}}Id) -> Result<{{Name}}, {{Name}}Error> {
        self.{{plural}}
            .find(id)
            .await?
            .ok_or({{Name}}Error::NotFound(id))
    }
}

/// Creates {{a_human}} (`POST /{{plural}}`).
#[derive(Clone)]
pub struct Create{{Name}} {
    {{plural}}: Arc<dyn {{Plural}}>,
    clock: Arc<dyn Clock>,
}

impl Create{{Name}} {
    /// Wires the use case.
    pub fn new({{plural}}: Arc<dyn {{Plural}}>, clock: Arc<dyn Clock>) -> Self {
        Self { {{plural}}, clock }
    }

    /// Stores the {{human}} (and its `{{name}}.created` event), owned by `owner`.
    ///
    /// # Errors
    /// [`{{Name}}Error::Store`] when the store fails.
    #[tracing::instrument(name = "use_case.create_{{name}}", skip_all)]
    pub async fn execute(&self, owner: &User, draft: {{Name}}Draft) -> Result<{{Name}}, {{Name}}Error> {
        let new = New{{Name}} {
            owner_id: owner.id,
            draft,
            created_at: self.clock.now(),
        };
        let created = self.{{plural}}.create(&new).await?;
        tracing::info!(
            {{name}}_id = created.id.get(),
            user_id = owner.id.get(),
            "{{human}} created"
        );
        Ok(created)
    }
}

/// Replaces one's own {{human}} (`PUT /{{plural}}/{id}`).
#[derive(Clone)]
pub struct Update{{Name}} {
    {{plural}}: Arc<dyn {{Plural}}>,
    clock: Arc<dyn Clock>,
}

impl Update{{Name}} {
    /// Wires the use case.
    pub fn new({{plural}}: Arc<dyn {{Plural}}>, clock: Arc<dyn Clock>) -> Self {
        Self { {{plural}}, clock }
    }

    /// Replaces the {{human}}'s editable state with `draft` (and stores `{{name}}.updated`).
    ///
    /// # Errors
    /// [`{{Name}}Error::NotFound`] when it does not exist (also when it is deleted
    /// concurrently); [`{{Name}}Error::NotOwner`] when someone else owns it.
    #[tracing::instrument(name = "use_case.update_{{name}}", skip_all)]
    pub async fn execute(
        &self,
        editor: UserId,
        id: {{Name}}Id,
        draft: {{Name}}Draft,
    ) -> Result<{{Name}}, {{Name}}Error> {
        let mut current = self
            .{{plural}}
            .find(id)
            .await?
            .ok_or({{Name}}Error::NotFound(id))?;
        let events = current
            .replace(editor, draft, self.clock.now())
            .map_err(|_| {{Name}}Error::NotOwner(id))?;
        match self.{{plural}}.replace(&current, &events).await {
            Ok(()) => Ok(current),
            Err(StoreError::Missing) => Err({{Name}}Error::NotFound(id)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Deletes one's own {{human}} (`DELETE /{{plural}}/{id}`).
#[derive(Clone)]
pub struct Delete{{Name}} {
    {{plural}}: Arc<dyn {{Plural}}>,
}

impl Delete{{Name}} {
    /// Wires the use case.
    pub fn new({{plural}}: Arc<dyn {{Plural}}>) -> Self {
        Self { {{plural}} }
    }

    /// Deletes the {{human}} (and stores `{{name}}.deleted`).
    ///
    /// # Errors
    /// [`{{Name}}Error::NotFound`] when it does not exist; [`{{Name}}Error::NotOwner`] when
    /// someone else owns it.
    #[tracing::instrument(name = "use_case.delete_{{name}}", skip_all)]
    pub async fn execute(&self, user: UserId, id: {{Name}}Id) -> Result<(), {{Name}}Error> {
        let current = self
            .{{plural}}
            .find(id)
            .await?
            .ok_or({{Name}}Error::NotFound(id))?;
        let events = current
            .delete(user)
            .map_err(|_| {{Name}}Error::NotOwner(id))?;
        match self.{{plural}}.delete(id, &events).await {
            Ok(()) => Ok(()),
            Err(StoreError::Missing) => Err({{Name}}Error::NotFound(id)),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{fixed_clock, now, unavailable, user};
    use keel_domain::event::DomainEvent;
    use keel_domain::{{name}}::{{{Name}}Description, {{Name}}Name};
    use keel_ports::Mock{{Plural}};

    fn draft(name: &str) -> {{Name}}Draft {
        {{Name}}Draft {
            name: {{Name}}Name::parse(name).expect("valid"),
            description: {{Name}}Description::parse("described").expect("valid"),
        }
    }

    fn stored(id: i64, owner: i64) -> {{Name}} {
        {{Name}} {
            id: {{Name}}Id::new(id),
            owner_id: UserId::new(owner),
            name: {{Name}}Name::parse("name").expect("valid"),
            description: {{Name}}Description::parse("").expect("valid"),
            created_at: now(),
            updated_at: now(),
        }
    }

    #[tokio::test]
    async fn list_passes_the_page() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_list()
            .withf(|page| *page == Page::new(5, 10).expect("valid"))
            .times(1)
            .returning(|_| Ok(vec![stored(1, 1), stored(2, 1)]));
        let listed = List{{Plural}}::new(Arc::new({{plural}}))
            .execute(Page::new(5, 10).expect("valid"))
            .await
            .expect("listed");
        assert_eq!(
            listed.iter().map(|x| x.id.get()).collect::<Vec<_>>(),
            [1, 2]
        );
    }

    #[tokio::test]
    async fn get_finds_or_reports_not_found() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok((id.get() == 5).then(|| stored(5, 2))));
        let get = Get{{Name}}::new(Arc::new({{plural}}));
        let found = get.execute({{Name}}Id::new(5)).await.expect("found");
        assert_eq!(found.owner_id, UserId::new(2));
        let err = get
            .execute({{Name}}Id::new(6))
            .await
            .expect_err("missing");
        assert!(matches!(err, {{Name}}Error::NotFound(id) if id == {{Name}}Id::new(6)));
    }

    #[tokio::test]
    async fn create_stores_the_draft_for_its_owner() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_create()
            .withf(|new| {
                new.owner_id == UserId::new(1)
                    && new.created_at == now()
                    && new.draft.name.as_str() == "hello"
            })
            .times(1)
            .returning(|new| {
                let mut created = stored(9, new.owner_id.get());
                created.name = new.draft.name.clone();
                Ok(created)
            });
        let created = Create{{Name}}::new(Arc::new({{plural}}), fixed_clock())
            .execute(&user(1), draft("hello"))
            .await
            .expect("created");
        assert_eq!(
            (created.id, created.owner_id, created.name.as_str()),
            ({{Name}}Id::new(9), UserId::new(1), "hello")
        );
    }

    #[tokio::test]
    async fn create_reports_store_failures() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}.expect_create().returning(|_| Err(unavailable()));
        let err = Create{{Name}}::new(Arc::new({{plural}}), fixed_clock())
            .execute(&user(1), draft("x"))
            .await
            .expect_err("down");
        assert!(matches!(err, {{Name}}Error::Store(_)));
    }

    #[tokio::test]
    async fn the_owner_replaces_the_whole_{{name}}() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok(Some(stored(id.get(), 1))));
        {{plural}}
            .expect_replace()
            .withf(|x, events| {
                x.name.as_str() == "new"
                    && x.updated_at == now()
                    && events
                        == [DomainEvent::{{Name}}Updated {
                            {{name}}_id: {{Name}}Id::new(4),
                            owner_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let updated = Update{{Name}}::new(Arc::new({{plural}}), fixed_clock())
            .execute(UserId::new(1), {{Name}}Id::new(4), draft("new"))
            .await
            .expect("updated");
        assert_eq!(
            (updated.name.as_str(), updated.description.as_str()),
            ("new", "described")
        );
    }

    #[tokio::test]
    async fn update_refuses_strangers_and_missing_{{plural}}() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok((id.get() == 1).then(|| stored(1, 2))));
        {{plural}}.expect_replace().never();
        let update = Update{{Name}}::new(Arc::new({{plural}}), fixed_clock());
        let err = update
            .execute(UserId::new(1), {{Name}}Id::new(1), draft("x"))
            .await
            .expect_err("stranger");
        assert!(matches!(err, {{Name}}Error::NotOwner(_)));
        let err = update
            .execute(UserId::new(1), {{Name}}Id::new(3), draft("x"))
            .await
            .expect_err("missing");
        assert!(matches!(err, {{Name}}Error::NotFound(_)));
    }

    #[tokio::test]
    async fn delete_checks_ownership_and_stores_the_event() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok((id.get() != 3).then(|| stored(id.get(), 1))));
        {{plural}}
            .expect_delete()
            .withf(|id, events| {
                *id == {{Name}}Id::new(4)
                    && events
                        == [DomainEvent::{{Name}}Deleted {
                            {{name}}_id: {{Name}}Id::new(4),
                            owner_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let delete = Delete{{Name}}::new(Arc::new({{plural}}));
        assert!(delete.execute(UserId::new(1), {{Name}}Id::new(4)).await.is_ok());
        assert!(matches!(
            delete.execute(UserId::new(2), {{Name}}Id::new(4)).await,
            Err({{Name}}Error::NotOwner(_))
        ));
        assert!(matches!(
            delete.execute(UserId::new(1), {{Name}}Id::new(3)).await,
            Err({{Name}}Error::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn deleted_meanwhile_is_not_found() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok(Some(stored(id.get(), 1))));
        {{plural}}
            .expect_replace()
            .returning(|_, _| Err(StoreError::Missing));
        {{plural}}
            .expect_delete()
            .returning(|_, _| Err(StoreError::Missing));
        let {{plural}} = Arc::new({{plural}});
        let err = Update{{Name}}::new({{plural}}.clone(), fixed_clock())
            .execute(UserId::new(1), {{Name}}Id::new(4), draft("x"))
            .await
            .expect_err("gone");
        assert!(matches!(err, {{Name}}Error::NotFound(_)));
        let err = Delete{{Name}}::new({{plural}})
            .execute(UserId::new(1), {{Name}}Id::new(4))
            .await
            .expect_err("gone");
        assert!(matches!(err, {{Name}}Error::NotFound(_)));
    }

    #[tokio::test]
    async fn store_failures_during_writes_surface() {
        let mut {{plural}} = Mock{{Plural}}::new();
        {{plural}}
            .expect_find()
            .returning(|id| Ok(Some(stored(id.get(), 1))));
        {{plural}}
            .expect_replace()
            .returning(|_, _| Err(unavailable()));
        {{plural}}
            .expect_delete()
            .returning(|_, _| Err(unavailable()));
        let {{plural}} = Arc::new({{plural}});
        let err = Update{{Name}}::new({{plural}}.clone(), fixed_clock())
            .execute(UserId::new(1), {{Name}}Id::new(4), draft("x"))
            .await
            .expect_err("down");
        assert!(matches!(err, {{Name}}Error::Store(_)));
        let err = Delete{{Name}}::new({{plural}})
            .execute(UserId::new(1), {{Name}}Id::new(4))
            .await
            .expect_err("down");
        assert!(matches!(err, {{Name}}Error::Store(_)));
    }
}
