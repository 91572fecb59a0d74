//! What every test needs: a store on a fresh database, fixtures, and raw views of rows
//! the ports do not expose (outbox events, counters, token rows).

use keel_domain::Timestamp;
use keel_domain::post::{Content, NewPost, Post, PostDraft, Title};
use keel_domain::user::{Email, NewUser, PasswordHash, User};
use keel_persistence::entity::{outbox_event, post, refresh_token};
use keel_persistence::{
    DEFAULT_WAKE_INTERVAL, SeaEmailTokens, SeaPosts, SeaSessions, SeaUsers, SeaVotes, connect,
    outbox_waker,
};
use keel_ports::{Posts, Users};
use keel_testkit::db::TestDb;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

/// The repositories on one fresh database, opened with the production [`connect`].
pub struct Store {
    pub users: SeaUsers,
    pub posts: SeaPosts,
    pub votes: SeaVotes,
    pub sessions: SeaSessions,
    pub email_tokens: SeaEmailTokens,
    pub conn: DatabaseConnection,
    pub label: &'static str,
    /// Declared last: dropped (and its database removed) after the pools above.
    pub _db: TestDb,
}

/// The repositories on `db`, with the production outbox waker (`NOTIFY` after each commit
/// that recorded events on PostgreSQL, none on SQLite).
pub async fn store(db: TestDb) -> Store {
    let conn = connect(db.url(), None)
        .await
        .unwrap_or_else(|err| panic!("connect to {}: {err}", db.label()));
    let waker = outbox_waker(db.url(), DEFAULT_WAKE_INTERVAL);
    Store {
        users: SeaUsers::new(conn.clone(), waker.clone()),
        posts: SeaPosts::new(conn.clone(), waker.clone()),
        votes: SeaVotes::new(conn.clone(), waker.clone()),
        sessions: SeaSessions::new(conn.clone()),
        email_tokens: SeaEmailTokens::new(conn.clone(), waker),
        conn,
        label: db.label(),
        _db: db,
    }
}

/// A fixed instant with a non-zero microsecond part, plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::new(datetime!(2026-11-28 12:00:00.123456 UTC)).plus(Duration::seconds(seconds))
}

pub fn email(address: &str) -> Email {
    Email::parse(address).expect("valid address")
}

pub fn draft(title: &str, published: bool) -> PostDraft {
    PostDraft {
        title: Title::parse(title).expect("valid title"),
        content: Content::parse("some content").expect("valid content"),
        published,
    }
}

impl Store {
    pub async fn user(&self, address: &str) -> User {
        self.users
            .create(&NewUser {
                email: email(address),
                password_hash: Some(PasswordHash::new("$argon2id$v=19$fake".to_owned())),
                email_verified: false,
                verification: None,
                created_at: at(0),
            })
            .await
            .unwrap_or_else(|err| panic!("[{}] create user: {err}", self.label))
    }

    pub async fn post(
        &self,
        owner: &User,
        title: &str,
        published: bool,
        created_at: Timestamp,
    ) -> Post {
        self.posts
            .create(&NewPost {
                owner_id: owner.id,
                draft: draft(title, published),
                created_at,
            })
            .await
            .unwrap_or_else(|err| panic!("[{}] create post: {err}", self.label))
    }

    /// Every outbox row, oldest first.
    pub async fn outbox(&self) -> Vec<outbox_event::Model> {
        outbox_event::Entity::find()
            .order_by_asc(outbox_event::Column::Id)
            .all(&self.conn)
            .await
            .expect("read outbox")
    }

    /// `(topic, payload)` of every outbox row, oldest first.
    pub async fn events(&self) -> Vec<(String, serde_json::Value)> {
        self.outbox()
            .await
            .into_iter()
            .map(|row| (row.topic, row.payload))
            .collect()
    }

    /// The stored `posts.votes_count`.
    pub async fn votes_count(&self, post: &Post) -> i64 {
        post::Entity::find_by_id(post.id.get())
            .one(&self.conn)
            .await
            .expect("read post")
            .expect("post exists")
            .votes_count
    }

    /// The rows of `refresh_tokens` of a family, oldest first.
    pub async fn tokens(&self, family: Uuid) -> Vec<refresh_token::Model> {
        refresh_token::Entity::find()
            .filter(refresh_token::Column::FamilyId.eq(family))
            .order_by_asc(refresh_token::Column::Id)
            .all(&self.conn)
            .await
            .expect("read tokens")
    }
}
