//! `SeaVotes`: one atomic step per vote (the post's visibility, the vote's existence, the row,
//! the count and the `vote.*` event), what it reports, and the races of identical votes.

use crate::harness::{Store, at, store};
use keel_domain::event::DomainEvent;
use keel_domain::post::{Post, PostId};
use keel_domain::user::UserId;
use keel_domain::vote::{Direction, VoteChange, VoteCommand};
use keel_persistence::entity::vote;
use keel_persistence::{OutboxListener, Wake};
use keel_ports::{Posts, StoreError, VoteCast, Votes};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

on_every_backend!(
    adding_and_removing_keep_the_count_and_record_events,
    a_second_identical_vote_finds_the_first_and_changes_nothing,
    removing_an_absent_vote_finds_none_and_changes_nothing,
    a_missing_post_or_someone_elses_draft_is_not_visible_and_nothing_is_written,
    of_fifty_concurrent_identical_votes_exactly_one_writes_and_the_rest_find_it,
    votes_racing_the_deletion_of_their_post_end_as_not_found_never_as_errors,
);

fn events(user: UserId, post: PostId, change: VoteChange) -> Vec<DomainEvent> {
    let direction = match change {
        VoteChange::Add => Direction::Up,
        VoteChange::Remove => Direction::Remove,
    };
    VoteCommand {
        user,
        post,
        direction,
    }
    .events(change)
}

async fn cast(
    s: &Store,
    user: UserId,
    post: PostId,
    change: VoteChange,
) -> Result<VoteCast, StoreError> {
    s.votes
        .cast(user, post, change, &events(user, post, change))
        .await
}

const FOUND_NONE: VoteCast = VoteCast::Found {
    already_voted: false,
};
const FOUND_ONE: VoteCast = VoteCast::Found {
    already_voted: true,
};

async fn vote_rows(s: &Store, post: &Post) -> u64 {
    vote::Entity::find()
        .filter(vote::Column::PostId.eq(post.id.get()))
        .count(&s.conn)
        .await
        .expect("count votes")
}

/// PostgreSQL: the transaction id that wrote the current version of a row.
async fn writer(s: &Store, sql: &str) -> String {
    s.conn
        .query_one_raw(Statement::from_string(s.conn.get_database_backend(), sql))
        .await
        .expect("read xmin")
        .expect("a row")
        .try_get::<String>("", "xid")
        .expect("xmin as text")
}

async fn adding_and_removing_keep_the_count_and_record_events(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let post = s.post(&owner, "vote on me", true, at(0)).await;
    let before = s.outbox().await.len();

    let added = cast(&s, voter.id, post.id, VoteChange::Add).await;
    assert_eq!(added.expect("add"), FOUND_NONE, "[{}]", s.label);
    assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);
    assert_eq!(vote_rows(&s, &post).await, 1, "[{}]", s.label);

    let removed = cast(&s, voter.id, post.id, VoteChange::Remove).await;
    assert_eq!(removed.expect("remove"), FOUND_ONE, "[{}]", s.label);
    assert_eq!(s.votes_count(&post).await, 0, "[{}]", s.label);
    assert_eq!(vote_rows(&s, &post).await, 0, "[{}]", s.label);

    let recorded = s.events().await.split_off(before);
    let payload = json!({"post_id": post.id.get(), "user_id": voter.id.get()});
    assert_eq!(
        recorded,
        [
            ("vote.created".to_owned(), payload.clone()),
            ("vote.deleted".to_owned(), payload)
        ],
        "[{}]",
        s.label
    );
    let pending = s.outbox().await.split_off(before);
    assert!(
        pending.iter().all(|row| row.status == "pending"),
        "[{}]",
        s.label
    );
}

async fn a_second_identical_vote_finds_the_first_and_changes_nothing(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let post = s.post(&owner, "once", true, at(0)).await;
    cast(&s, voter.id, post.id, VoteChange::Add)
        .await
        .expect("first vote");
    let before = s.outbox().await.len();

    let again = cast(&s, voter.id, post.id, VoteChange::Add).await;
    assert_eq!(again.expect("a finding"), FOUND_ONE, "[{}]", s.label);
    assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);
    assert_eq!(vote_rows(&s, &post).await, 1, "[{}]", s.label);
    assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);
}

async fn removing_an_absent_vote_finds_none_and_changes_nothing(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let post = s.post(&owner, "no votes", true, at(0)).await;
    let other = s.user("other@example.com").await;
    cast(&s, other.id, post.id, VoteChange::Add)
        .await
        .expect("someone else's vote");
    let before = s.outbox().await.len();

    let removed = cast(&s, voter.id, post.id, VoteChange::Remove).await;
    assert_eq!(removed.expect("a finding"), FOUND_NONE, "[{}]", s.label);
    assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);
    assert_eq!(vote_rows(&s, &post).await, 1, "[{}]", s.label);
    assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);
}

async fn a_missing_post_or_someone_elses_draft_is_not_visible_and_nothing_is_written(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let draft = s.post(&owner, "draft", false, at(0)).await;
    let before = s.outbox().await.len();

    for change in [VoteChange::Add, VoteChange::Remove] {
        let gone = cast(&s, voter.id, PostId::new(777_777), change).await;
        assert_eq!(
            gone.expect("a finding"),
            VoteCast::PostNotVisible,
            "[{}]",
            s.label
        );
        let hidden = cast(&s, voter.id, draft.id, change).await;
        assert_eq!(
            hidden.expect("a finding"),
            VoteCast::PostNotVisible,
            "[{}] {change:?}",
            s.label
        );
    }
    assert_eq!(vote_rows(&s, &draft).await, 0, "[{}]", s.label);
    assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);

    // The owner sees their own draft, so they may vote on it.
    let own = cast(&s, owner.id, draft.id, VoteChange::Add).await;
    assert_eq!(own.expect("own draft"), FOUND_NONE, "[{}]", s.label);
    assert_eq!(s.votes_count(&draft).await, 1, "[{}]", s.label);
}

async fn of_fifty_concurrent_identical_votes_exactly_one_writes_and_the_rest_find_it(s: Store) {
    let owner = s.user("owner@example.com").await;
    let voter = s.user("voter@example.com").await;
    let post = s.post(&owner, "contested", true, at(0)).await;
    let before = s.outbox().await.len();
    let votes = Arc::new(s.votes.clone());

    for (change, wrote, found) in [
        (VoteChange::Add, FOUND_NONE, FOUND_ONE),
        (VoteChange::Remove, FOUND_ONE, FOUND_NONE),
    ] {
        let events = Arc::new(events(voter.id, post.id, change));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (votes, events) = (Arc::clone(&votes), Arc::clone(&events));
            let (user, post) = (voter.id, post.id);
            tasks.spawn(async move { votes.cast(user, post, change, &events).await });
        }
        let (mut writers, mut finders) = (0, 0);
        for outcome in tasks.join_all().await {
            match outcome {
                Ok(cast) if cast == wrote => writers += 1,
                Ok(cast) if cast == found => finders += 1,
                other => panic!("[{}] {change:?}: unexpected outcome {other:?}", s.label),
            }
        }
        assert_eq!((writers, finders), (1, 49), "[{}] {change:?}", s.label);
    }
    assert_eq!(s.votes_count(&post).await, 0, "[{}]", s.label);
    assert_eq!(vote_rows(&s, &post).await, 0, "[{}]", s.label);
    let topics: Vec<String> = s
        .events()
        .await
        .split_off(before)
        .into_iter()
        .map(|(topic, _)| topic)
        .collect();
    assert_eq!(topics, ["vote.created", "vote.deleted"], "[{}]", s.label);
}

async fn votes_racing_the_deletion_of_their_post_end_as_not_found_never_as_errors(s: Store) {
    let owner = s.user("owner@example.com").await;
    let post = s.post(&owner, "doomed", true, at(0)).await;
    let mut voters = Vec::new();
    for n in 0..20 {
        voters.push(s.user(&format!("racer{n}@example.com")).await.id);
    }
    let votes = Arc::new(s.votes.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for voter in voters {
        let votes = Arc::clone(&votes);
        let events = events(voter, post.id, VoteChange::Add);
        tasks.spawn(async move { votes.cast(voter, post.id, VoteChange::Add, &events).await });
    }
    let deleted = s.posts.delete(post.id, &[]).await;
    assert!(deleted.is_ok(), "[{}] {deleted:?}", s.label);
    for outcome in tasks.join_all().await {
        assert!(
            matches!(
                outcome,
                Ok(FOUND_NONE | VoteCast::PostNotVisible) | Err(StoreError::Missing)
            ),
            "[{}] {outcome:?}",
            s.label
        );
    }
    let rows = vote::Entity::find()
        .filter(vote::Column::PostId.eq(post.id.get()))
        .count(&s.conn)
        .await
        .expect("count");
    assert_eq!(rows, 0, "[{}] the votes went with the post", s.label);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_larger_sqlite_pool_queues_concurrent_writers_instead_of_failing_busy() {
    let db = keel_testkit::db::TestDb::sqlite().await;
    let conn = keel_persistence::connect(db.url(), Some(8))
        .await
        .expect("connect");
    let waker: Arc<dyn keel_ports::OutboxWaker> = Arc::new(keel_persistence::NoWakeUps);
    let users = keel_persistence::SeaUsers::new(conn.clone(), waker.clone());
    let posts = keel_persistence::SeaPosts::new(conn.clone(), waker.clone());
    let votes = Arc::new(keel_persistence::SeaVotes::new(conn.clone(), waker));
    let new_user = |n: usize| keel_domain::user::NewUser {
        email: crate::harness::email(&format!("voter{n}@example.com")),
        password_hash: None,
        email_verified: false,
        verification: None,
        created_at: at(0),
    };
    use keel_ports::Users;
    let owner = users.create(&new_user(0)).await.expect("owner");
    let post = posts
        .create(&keel_domain::post::NewPost {
            owner_id: owner.id,
            draft: crate::harness::draft("busy", true),
            created_at: at(0),
        })
        .await
        .expect("post");
    let mut voters = Vec::new();
    for n in 1..=40 {
        voters.push(users.create(&new_user(n)).await.expect("voter").id);
    }

    let mut tasks = tokio::task::JoinSet::new();
    for voter in voters {
        let votes = Arc::clone(&votes);
        let events = events(voter, post.id, VoteChange::Add);
        tasks.spawn(async move { votes.cast(voter, post.id, VoteChange::Add, &events).await });
    }
    for outcome in tasks.join_all().await {
        assert_eq!(outcome.expect("no busy failure"), FOUND_NONE);
    }
    let stored = keel_persistence::entity::post::Entity::find_by_id(post.id.get())
        .one(&conn)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored.votes_count, 40);
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test]
    async fn the_vote_its_count_and_its_event_are_written_by_one_transaction() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let owner = s.user("owner@example.com").await;
        let voter = s.user("voter@example.com").await;
        let post = s.post(&owner, "atomic", true, at(0)).await;
        assert_eq!(
            cast(&s, voter.id, post.id, VoteChange::Add)
                .await
                .expect("add"),
            FOUND_NONE
        );
        let (user, id) = (voter.id.get(), post.id.get());
        let vote_xid = writer(
            &s,
            &format!(
                "SELECT xmin::text AS xid FROM votes WHERE user_id = {user} AND post_id = {id}"
            ),
        )
        .await;
        let count_xid = writer(
            &s,
            &format!("SELECT xmin::text AS xid FROM posts WHERE id = {id}"),
        )
        .await;
        let event_xid = writer(
            &s,
            "SELECT xmin::text AS xid FROM outbox_events WHERE topic = 'vote.created'",
        )
        .await;
        let post_xid = writer(
            &s,
            "SELECT xmin::text AS xid FROM outbox_events WHERE topic = 'post.created'",
        )
        .await;
        assert_eq!(vote_xid, count_xid);
        assert_eq!(vote_xid, event_xid);
        assert_ne!(
            vote_xid, post_xid,
            "the post itself was an earlier transaction"
        );
    }

    #[tokio::test]
    async fn a_vote_that_wrote_wakes_postgres_listeners_and_one_that_did_not_stays_quiet() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let owner = s.user("owner@example.com").await;
        let voter = s.user("voter@example.com").await;
        let post = s.post(&owner, "wake", true, at(0)).await;
        cast(&s, voter.id, post.id, VoteChange::Add)
            .await
            .expect("add");
        let mut listener = OutboxListener::connect(s._db.url())
            .await
            .expect("listen")
            .expect("postgres");
        // The add's own wake-up may arrive after LISTEN began: wait for quiet.
        let mut quiet = false;
        for _ in 0..10 {
            if listener.wait(Duration::from_millis(200)).await == Wake::TimedOut {
                quiet = true;
                break;
            }
        }
        assert!(quiet, "wake-ups kept coming with no writes");

        let again = cast(&s, voter.id, post.id, VoteChange::Add).await;
        assert_eq!(again.expect("a finding"), FOUND_ONE);
        assert_eq!(
            listener.wait(Duration::from_millis(300)).await,
            Wake::TimedOut,
            "nothing was written, nobody is woken"
        );
        cast(&s, voter.id, post.id, VoteChange::Remove)
            .await
            .expect("remove");
        assert_eq!(listener.wait(Duration::from_secs(5)).await, Wake::Notified);
    }
}
