//! [`{{Plural}}`] on SeaORM: {{humans}} and the `{{name}}.*` events committed with each change.
//!
//! Lists are served by the `{{plural}}_list_idx` index (`created_at DESC, id DESC`).

use crate::entity::{{name}};
use crate::error::{store_error, unreadable};
use crate::transaction::{begin, finish_and_wake};
use crate::waker::Wakeup;
use crate::users::returned_id;
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::paging::Page;
use keel_domain::user::UserId;
use keel_domain::{{name}}::{
    New{{Name}}, {{Name}}, {{Name}}Description, {{Name}}Id, {{Name}}Name,
};
use keel_ports::{OutboxWaker, StoreError, {{Plural}}};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryOrder, QuerySelect,
};
use std::sync::Arc;

/// Stored {{humans}} on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sea{{Plural}} {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl Sea{{Plural}} {
    /// {{Humans}} stored through `db`; `waker` is woken after each commit that recorded events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        Self {
            db,
            wakeup: Wakeup::new(waker),
        }
    }
}

#[async_trait]
impl {{Plural}} for Sea{{Plural}} {
    #[tracing::instrument(name = "db.{{plural}}.create", skip_all, fields(otel.kind = "client"))]
    async fn create(&self, new: &New{{Name}}) -> Result<{{Name}}, StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = insert(&txn, new).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(name = "db.{{plural}}.find", skip_all, fields(otel.kind = "client"))]
    async fn find(&self, id: {{Name}}Id) -> Result<Option<{{Name}}>, StoreError> {
        {{name}}::Entity::find_by_id(id.get())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    #[tracing::instrument(name = "db.{{plural}}.list", skip_all, fields(otel.kind = "client"))]
    async fn list(&self, page: Page) -> Result<Vec<{{Name}}>, StoreError> {
        {{name}}::Entity::find()
            .order_by_desc({{name}}::Column::CreatedAt)
            .order_by_desc({{name}}::Column::Id)
            .limit(page.limit().unsigned_abs())
            .offset(page.skip().unsigned_abs())
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    #[tracing::instrument(name = "db.{{plural}}.replace", skip_all, fields(otel.kind = "client"))]
    async fn replace(&self, {{name}}: &{{Name}}, events: &[DomainEvent]) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = update(&txn, {{name}}, events).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(name = "db.{{plural}}.delete", skip_all, fields(otel.kind = "client"))]
    async fn delete(&self, id: {{Name}}Id, events: &[DomainEvent]) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = remove(&txn, id, events).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }
}

async fn insert(txn: &DatabaseTransaction, new: &New{{Name}}) -> Result<{{Name}}, StoreError> {
    let backend = txn.get_database_backend();
    let row: [Expr; 5] = [
        new.draft.name.as_str().into(),
        new.draft.description.as_str().into(),
        new.owner_id.get().into(),
        instant::value(backend, new.created_at).into(),
        instant::value(backend, new.created_at).into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table({{name}}::Entity)
        .columns([
            {{name}}::Column::Name,
            {{name}}::Column::Description,
            {{name}}::Column::OwnerId,
            {{name}}::Column::CreatedAt,
            {{name}}::Column::UpdatedAt,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("{{plural}} insert: {err}")))?
        .returning_col({{name}}::Column::Id);
    // A missing owner fails the foreign key: `StoreError::Missing`.
    let id = {{Name}}Id::new(returned_id(txn, &insert).await?);
    outbox::append(txn, &new.events(id), instant::now()).await?;
    Ok({{Name}} {
        id,
        owner_id: new.owner_id,
        name: new.draft.name.clone(),
        description: new.draft.description.clone(),
        created_at: new.created_at,
        updated_at: new.created_at,
    })
}

async fn update(
    txn: &DatabaseTransaction,
    current: &{{Name}},
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let mut update = Query::update();
    update
        .table({{name}}::Entity)
        .value({{name}}::Column::Name, current.name.as_str())
        .value({{name}}::Column::Description, current.description.as_str())
        .value(
            {{name}}::Column::UpdatedAt,
            instant::value(backend, current.updated_at),
        )
        .and_where({{name}}::Column::Id.eq(current.id.get()));
    let updated = txn.execute(&update).await.map_err(store_error)?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing);
    }
    outbox::append(txn, events, instant::now()).await
}

async fn remove(
    txn: &DatabaseTransaction,
    id: {{Name}}Id,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let deleted = {{name}}::Entity::delete_by_id(id.get())
        .exec(txn)
        .await
        .map_err(store_error)?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::Missing);
    }
    outbox::append(txn, events, instant::now()).await
}

fn to_domain(row: {{name}}::Model) -> Result<{{Name}}, StoreError> {
    let id = row.id;
    Ok({{Name}} {
        id: {{Name}}Id::new(id),
        owner_id: UserId::new(row.owner_id),
        name: {{Name}}Name::parse(&row.name)
            .map_err(|err| unreadable(format!("{{plural}}.name of {{human}} {id}: {err}")))?,
        description: {{Name}}Description::parse(&row.description).map_err(|err| {
            unreadable(format!("{{plural}}.description of {{human}} {id}: {err}"))
        })?,
        created_at: instant::read(row.created_at),
        updated_at: instant::read(row.updated_at),
    })
}
