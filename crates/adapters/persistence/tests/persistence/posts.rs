//! `SeaPosts`: the write contracts (missing owner, vanished post), the read model, the feed's
//! visibility, search and order, and the `post.*` events.

use crate::harness::{Store, at, draft, store};
use keel_domain::Timestamp;
use keel_domain::paging::{Page, Search};
use keel_domain::post::{NewPost, PostId};
use keel_domain::user::UserId;
use keel_domain::vote::VoteChange;
use keel_ports::{PostQuery, Posts, StoreError, Votes};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use time::Duration;
use time::macros::datetime;

on_every_backend!(
    a_created_post_is_found_and_viewed_with_its_owner_and_event,
    a_post_of_a_missing_owner_is_missing_and_records_no_event,
    replacing_stores_the_new_state_and_a_vanished_post_is_missing,
    deleting_removes_the_post_and_its_votes_and_a_second_delete_is_missing,
    the_feed_shows_published_posts_and_the_viewers_own_drafts_only,
    search_matches_titles_case_insensitively_and_treats_like_metacharacters_literally,
    the_feed_is_newest_first_with_ties_broken_by_id_and_pages_slice_it,
    views_read_the_maintained_vote_count,
);

fn query(viewer: UserId, search: &str, limit: i64, skip: i64) -> PostQuery {
    PostQuery {
        viewer,
        search: Search::parse(search).expect("valid search"),
        page: Page::new(limit, skip).expect("valid page"),
    }
}

fn titles(views: &[keel_ports::PostView]) -> Vec<&str> {
    views.iter().map(|v| v.post.title.as_str()).collect()
}

async fn a_created_post_is_found_and_viewed_with_its_owner_and_event(s: Store) {
    let owner = s.user("owner@example.com").await;
    let post = s.post(&owner, "Hello", false, at(5)).await;
    assert_eq!(
        (post.created_at, post.updated_at),
        (at(5), at(5)),
        "[{}]",
        s.label
    );

    assert_eq!(
        s.posts.find(post.id).await.expect("find"),
        Some(post.clone()),
        "[{}]",
        s.label
    );
    let view = s.posts.view(post.id).await.expect("view").expect("exists");
    assert_eq!(view.post, post, "[{}]", s.label);
    assert_eq!(view.votes, 0, "[{}]", s.label);
    assert_eq!(
        (
            view.owner.id,
            view.owner.email.as_str(),
            view.owner.created_at
        ),
        (owner.id, "owner@example.com", owner.created_at),
        "[{}]",
        s.label
    );
    assert_eq!(
        s.posts.find(PostId::new(999_999)).await.expect("find"),
        None
    );
    assert_eq!(
        s.posts.view(PostId::new(999_999)).await.expect("view"),
        None
    );

    let events = s.events().await;
    assert_eq!(
        events.last(),
        Some(&(
            "post.created".to_owned(),
            json!({"post_id": post.id.get(), "owner_id": owner.id.get()})
        )),
        "[{}]",
        s.label
    );
}

async fn a_post_of_a_missing_owner_is_missing_and_records_no_event(s: Store) {
    let created = s
        .posts
        .create(&NewPost {
            owner_id: UserId::new(424_242),
            draft: draft("orphan", true),
            created_at: at(0),
        })
        .await;
    assert!(
        matches!(created, Err(StoreError::Missing)),
        "[{}] {created:?}",
        s.label
    );
    assert!(s.outbox().await.is_empty(), "[{}]", s.label);
}

async fn replacing_stores_the_new_state_and_a_vanished_post_is_missing(s: Store) {
    let owner = s.user("owner@example.com").await;
    let mut post = s.post(&owner, "Draft", true, at(0)).await;
    let events = post
        .replace(owner.id, draft("Final", false), at(60))
        .expect("owner may replace");
    s.posts.replace(&post, &events).await.expect("replace");
    let stored = s.posts.find(post.id).await.expect("find").expect("exists");
    assert_eq!(stored, post, "[{}]", s.label);
    assert_eq!(
        (
            stored.title.as_str(),
            stored.published,
            stored.created_at,
            stored.updated_at
        ),
        ("Final", false, at(0), at(60)),
        "[{}]",
        s.label
    );
    assert_eq!(
        s.events()
            .await
            .last()
            .map(|(topic, payload)| (topic.as_str(), payload.clone())),
        Some((
            "post.updated",
            json!({"post_id": post.id.get(), "owner_id": owner.id.get()})
        )),
        "[{}]",
        s.label
    );

    let delete_events = post.delete(owner.id).expect("owner may delete");
    s.posts
        .delete(post.id, &delete_events)
        .await
        .expect("delete");
    let before = s.outbox().await.len();
    let replaced = s.posts.replace(&post, &events).await;
    assert!(
        matches!(replaced, Err(StoreError::Missing)),
        "[{}] {replaced:?}",
        s.label
    );
    assert_eq!(
        s.outbox().await.len(),
        before,
        "[{}] no event without its write",
        s.label
    );
}

async fn deleting_removes_the_post_and_its_votes_and_a_second_delete_is_missing(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let post = s.post(&owner, "Doomed", true, at(0)).await;
    s.votes
        .cast(voter.id, post.id, VoteChange::Add, &[])
        .await
        .expect("vote");

    let events = post.delete(owner.id).expect("owner may delete");
    s.posts.delete(post.id, &events).await.expect("delete");
    assert_eq!(
        s.posts.find(post.id).await.expect("find"),
        None,
        "[{}]",
        s.label
    );
    let votes_left = keel_persistence::entity::vote::Entity::find()
        .count(&s.conn)
        .await
        .expect("count votes");
    assert_eq!(votes_left, 0, "[{}]", s.label);
    assert_eq!(
        s.events().await.last(),
        Some(&(
            "post.deleted".to_owned(),
            json!({"post_id": post.id.get(), "owner_id": owner.id.get()})
        )),
        "[{}]",
        s.label
    );

    let before = s.outbox().await.len();
    let again = s.posts.delete(post.id, &events).await;
    assert!(
        matches!(again, Err(StoreError::Missing)),
        "[{}] {again:?}",
        s.label
    );
    assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);
}

async fn the_feed_shows_published_posts_and_the_viewers_own_drafts_only(s: Store) {
    let alice = s.user("alice@example.com").await;
    let bob = s.user("bob@example.com").await;
    s.post(&alice, "alice public", true, at(1)).await;
    s.post(&alice, "alice draft", false, at(2)).await;
    s.post(&bob, "bob public", true, at(3)).await;
    s.post(&bob, "bob draft", false, at(4)).await;

    let for_alice = s
        .posts
        .list(&query(alice.id, "", 10, 0))
        .await
        .expect("list");
    assert_eq!(
        titles(&for_alice),
        ["bob public", "alice draft", "alice public"],
        "[{}]",
        s.label
    );
    let for_bob = s.posts.list(&query(bob.id, "", 10, 0)).await.expect("list");
    assert_eq!(
        titles(&for_bob),
        ["bob draft", "bob public", "alice public"],
        "[{}]",
        s.label
    );
    assert_eq!(
        for_bob[0].owner.email.as_str(),
        "bob@example.com",
        "[{}]",
        s.label
    );
}

async fn search_matches_titles_case_insensitively_and_treats_like_metacharacters_literally(
    s: Store,
) {
    let owner = s.user("owner@example.com").await;
    for (i, title) in [
        "100% Sure",
        "100 percent",
        "snake_case",
        "snakeXcase",
        r"back\slash",
        "Rust tips",
    ]
    .into_iter()
    .enumerate()
    {
        let seconds = i64::try_from(i).expect("small");
        s.post(&owner, title, true, at(seconds)).await;
    }
    let search = async |term: &str| {
        let views = s
            .posts
            .list(&query(owner.id, term, 100, 0))
            .await
            .expect("list");
        views
            .iter()
            .map(|v| v.post.title.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(search("%").await, ["100% Sure"], "[{}]", s.label);
    assert_eq!(search("0%").await, ["100% Sure"], "[{}]", s.label);
    assert_eq!(search("_").await, ["snake_case"], "[{}]", s.label);
    assert_eq!(search("SNAKE_").await, ["snake_case"], "[{}]", s.label);
    assert_eq!(search(r"\").await, [r"back\slash"], "[{}]", s.label);
    assert_eq!(search("rUsT").await, ["Rust tips"], "[{}]", s.label);
    assert!(search("absent").await.is_empty(), "[{}]", s.label);
    assert_eq!(search("").await.len(), 6, "[{}]", s.label);
}

async fn the_feed_is_newest_first_with_ties_broken_by_id_and_pages_slice_it(s: Store) {
    let owner = s.user("owner@example.com").await;
    // A whole second next to half a second later: stored as text with a variable number
    // of fractional digits, `…:00Z` would sort after `…:00.5Z`; the order must be by time.
    let whole = Timestamp::new(datetime!(2026-11-28 12:00:00 UTC));
    let a = s.post(&owner, "a", true, whole).await;
    let b = s
        .post(&owner, "b", true, whole.plus(Duration::milliseconds(500)))
        .await;
    let c = s
        .post(&owner, "c", true, whole.plus(Duration::seconds(1)))
        .await;
    // Same instant as c, higher id.
    let d = s
        .post(&owner, "d", true, whole.plus(Duration::seconds(1)))
        .await;
    // Older, inserted last.
    let e = s.post(&owner, "e", true, at(-86_400)).await;

    let all = s
        .posts
        .list(&query(owner.id, "", 100, 0))
        .await
        .expect("list");
    let ids: Vec<PostId> = all.iter().map(|v| v.post.id).collect();
    assert_eq!(ids, [d.id, c.id, b.id, a.id, e.id], "[{}]", s.label);

    let page = s
        .posts
        .list(&query(owner.id, "", 2, 1))
        .await
        .expect("list");
    assert_eq!(titles(&page), ["c", "b"], "[{}]", s.label);
    let last = s
        .posts
        .list(&query(owner.id, "", 2, 4))
        .await
        .expect("list");
    assert_eq!(titles(&last), ["e"], "[{}]", s.label);
    let beyond = s
        .posts
        .list(&query(owner.id, "", 2, 5))
        .await
        .expect("list");
    assert!(beyond.is_empty(), "[{}]", s.label);
}

async fn views_read_the_maintained_vote_count(s: Store) {
    let owner = s.user("owner@example.com").await;
    let post = s.post(&owner, "popular", true, at(0)).await;
    for n in 0..3 {
        let voter = s.user(&format!("voter{n}@example.com")).await;
        s.votes
            .cast(voter.id, post.id, VoteChange::Add, &[])
            .await
            .expect("vote");
    }
    assert_eq!(
        s.posts
            .view(post.id)
            .await
            .expect("view")
            .expect("exists")
            .votes,
        3
    );
    let listed = s
        .posts
        .list(&query(owner.id, "", 10, 0))
        .await
        .expect("list");
    assert_eq!(listed[0].votes, 3, "[{}]", s.label);
    assert_eq!(s.votes_count(&post).await, 3, "[{}]", s.label);
}

/// PostgreSQL: the transaction id that wrote the current version of the row `sql` selects.
async fn writer(s: &crate::harness::Store, sql: &str) -> String {
    use sea_orm::ConnectionTrait;
    s.conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql,
        ))
        .await
        .expect("read xmin")
        .expect("a row")
        .try_get::<String>("", "xid")
        .expect("xmin as text")
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test]
    async fn on_postgres_each_change_and_its_event_are_written_by_one_transaction() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let owner = s.user("owner@example.com").await;
        let mut post = s.post(&owner, "atomic", true, at(0)).await;
        let id = post.id.get();
        let event = |topic: &str| {
            format!("SELECT xmin::text AS xid FROM outbox_events WHERE topic = '{topic}'")
        };
        let row = format!("SELECT xmin::text AS xid FROM posts WHERE id = {id}");
        assert_eq!(
            writer(&s, &row).await,
            writer(&s, &event("post.created")).await
        );

        let events = post
            .replace(owner.id, draft("atomic again", true), at(5))
            .expect("owner may edit");
        s.posts.replace(&post, &events).await.expect("replace");
        let updated = writer(&s, &row).await;
        assert_eq!(updated, writer(&s, &event("post.updated")).await);
        assert_ne!(updated, writer(&s, &event("post.created")).await);

        // A change that finds no post writes no event.
        let before = s.outbox().await.len();
        let events = post.delete(owner.id).expect("owner may delete");
        s.posts.delete(post.id, &events).await.expect("delete");
        let again = s.posts.delete(post.id, &events).await;
        assert!(matches!(again, Err(StoreError::Missing)), "{again:?}");
        let topics: Vec<String> = s
            .events()
            .await
            .split_off(before)
            .into_iter()
            .map(|(topic, _)| topic)
            .collect();
        assert_eq!(topics, ["post.deleted"]);
    }
}
