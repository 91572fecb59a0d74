//! `SeaVotes`: the count kept with the rows, the error contracts, the `vote.*` events, and the
//! race of identical votes.

use crate::harness::{at, stores};
use keel_domain::post::PostId;
use keel_domain::vote::{Direction, VoteChange, VoteCommand};
use keel_persistence::entity::vote;
use keel_ports::{StoreError, Votes};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use std::sync::Arc;

fn events(
    user: keel_domain::user::UserId,
    post: PostId,
    change: VoteChange,
) -> Vec<keel_domain::event::DomainEvent> {
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

#[tokio::test]
async fn adding_and_removing_keep_the_count_and_record_events() {
    for s in stores().await {
        let owner = s.user("owner@example.com").await;
        let voter = s.user("voter@example.com").await;
        let post = s.post(&owner, "vote on me", true, at(0)).await;
        let before = s.outbox().await.len();

        assert!(
            !s.votes.exists(voter.id, post.id).await.expect("exists"),
            "[{}]",
            s.label
        );
        s.votes
            .add(
                voter.id,
                post.id,
                &events(voter.id, post.id, VoteChange::Add),
            )
            .await
            .expect("add");
        assert!(
            s.votes.exists(voter.id, post.id).await.expect("exists"),
            "[{}]",
            s.label
        );
        assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);

        s.votes
            .remove(
                voter.id,
                post.id,
                &events(voter.id, post.id, VoteChange::Remove),
            )
            .await
            .expect("remove");
        assert!(
            !s.votes.exists(voter.id, post.id).await.expect("exists"),
            "[{}]",
            s.label
        );
        assert_eq!(s.votes_count(&post).await, 0, "[{}]", s.label);

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
    }
}

#[tokio::test]
async fn a_second_identical_vote_is_a_conflict_and_changes_nothing() {
    for s in stores().await {
        let owner = s.user("owner@example.com").await;
        let voter = s.user("voter@example.com").await;
        let post = s.post(&owner, "once", true, at(0)).await;
        let add = events(voter.id, post.id, VoteChange::Add);
        s.votes
            .add(voter.id, post.id, &add)
            .await
            .expect("first vote");
        let before = s.outbox().await.len();

        let again = s.votes.add(voter.id, post.id, &add).await;
        assert!(
            matches!(again, Err(StoreError::Conflict)),
            "[{}] {again:?}",
            s.label
        );
        assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);
        assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);
    }
}

#[tokio::test]
async fn voting_on_a_vanished_post_and_removing_an_absent_vote_are_missing() {
    for s in stores().await {
        let voter = s.user("voter@example.com").await;
        let gone = PostId::new(777_777);
        let added = s
            .votes
            .add(voter.id, gone, &events(voter.id, gone, VoteChange::Add))
            .await;
        assert!(
            matches!(added, Err(StoreError::Missing)),
            "[{}] {added:?}",
            s.label
        );

        let owner = s.user("owner@example.com").await;
        let post = s.post(&owner, "no votes", true, at(0)).await;
        let before = s.outbox().await.len();
        let removed = s
            .votes
            .remove(
                voter.id,
                post.id,
                &events(voter.id, post.id, VoteChange::Remove),
            )
            .await;
        assert!(
            matches!(removed, Err(StoreError::Missing)),
            "[{}] {removed:?}",
            s.label
        );
        assert_eq!(s.votes_count(&post).await, 0, "[{}]", s.label);
        assert_eq!(s.outbox().await.len(), before, "[{}]", s.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_fifty_concurrent_identical_votes_exactly_one_is_stored() {
    for s in stores().await {
        let owner = s.user("owner@example.com").await;
        let voter = s.user("voter@example.com").await;
        let post = s.post(&owner, "contested", true, at(0)).await;
        let before = s.outbox().await.len();

        let votes = Arc::new(s.votes.clone());
        let add = Arc::new(events(voter.id, post.id, VoteChange::Add));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (votes, add) = (Arc::clone(&votes), Arc::clone(&add));
            let (user, post) = (voter.id, post.id);
            tasks.spawn(async move { votes.add(user, post, &add).await });
        }
        let (mut ok, mut conflict) = (0, 0);
        for outcome in tasks.join_all().await {
            match outcome {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict) => conflict += 1,
                Err(other) => panic!("[{}] unexpected outcome: {other:?}", s.label),
            }
        }
        assert_eq!((ok, conflict), (1, 49), "[{}]", s.label);
        assert_eq!(s.votes_count(&post).await, 1, "[{}]", s.label);
        let rows = vote::Entity::find().count(&s.conn).await.expect("count");
        assert_eq!(rows, 1, "[{}]", s.label);
        assert_eq!(
            s.outbox().await.len(),
            before + 1,
            "[{}] one vote.created",
            s.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_larger_sqlite_pool_queues_concurrent_writers_instead_of_failing_busy() {
    let db = keel_testkit::db::TestDb::sqlite().await;
    let conn = keel_persistence::connect(db.url(), Some(8))
        .await
        .expect("connect");
    let users = keel_persistence::SeaUsers::new(conn.clone());
    let posts = keel_persistence::SeaPosts::new(conn.clone());
    let votes = Arc::new(keel_persistence::SeaVotes::new(conn.clone()));
    let new_user = |n: usize| keel_domain::user::NewUser {
        email: crate::harness::email(&format!("voter{n}@example.com")),
        password_hash: None,
        created_at: at(0),
    };
    use keel_ports::{Posts, Users};
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
        tasks.spawn(async move { votes.add(voter, post.id, &events).await });
    }
    for outcome in tasks.join_all().await {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    let stored = keel_persistence::entity::post::Entity::find_by_id(post.id.get())
        .one(&conn)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored.votes_count, 40);
}
