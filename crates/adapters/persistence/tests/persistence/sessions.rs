//! `SeaSessions`: families and their tokens, optimistic concurrency on save, rotation and
//! revocation bookkeeping, the live list, logout-everywhere, and the race of two refreshes.

use crate::harness::{Store, at};
use keel_domain::Timestamp;
use keel_domain::session::{
    FamilyId, ROTATED, RefreshRejection, RevocationReason, SessionChange, SessionFamily,
    SessionPolicy, TokenId,
};
use keel_domain::user::{User, UserId};
use keel_ports::{Sessions, StoreError, Users};
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

on_every_backend!(
    a_created_family_is_found_by_id_and_by_its_token,
    creating_for_a_missing_user_is_missing_and_reused_ids_conflict,
    a_rotation_stores_the_successor_and_retires_the_presented_token,
    a_save_from_a_stale_version_is_a_conflict_and_writes_nothing,
    reuse_revokes_the_family_and_every_live_token_of_it,
    the_live_list_holds_unrevoked_unexpired_families_newest_first,
    a_user_is_found_in_a_session_only_while_that_session_is_live,
    the_migration_fills_each_familys_expiry_from_its_current_token,
    revoking_all_revokes_every_unrevoked_family_of_the_user_and_their_tokens,
    of_two_concurrent_rotations_of_one_loaded_family_exactly_one_is_stored,
);

fn policy() -> SessionPolicy {
    SessionPolicy {
        refresh_ttl: Duration::days(30),
        reuse_grace: Duration::seconds(10),
        max_age: Duration::days(90),
    }
}

fn jti() -> TokenId {
    TokenId::new(Uuid::new_v4())
}

fn start(user: &User, now: Timestamp) -> SessionFamily {
    SessionFamily::start(
        FamilyId::new(Uuid::new_v4()),
        user.id,
        jti(),
        Some("keel-tests/1.0"),
        now,
        &policy(),
    )
}

async fn login(s: &Store, user: &User, now: Timestamp) -> SessionFamily {
    let family = start(user, now);
    s.sessions
        .create(&family)
        .await
        .unwrap_or_else(|err| panic!("[{}] create family: {err}", s.label));
    family
}

/// Rotates the family's current token at `now`, returning the new family and the change.
fn rotate(family: &SessionFamily, now: Timestamp) -> (SessionFamily, SessionChange) {
    let mut next = family.clone();
    let change = next
        .refresh(family.current().jti, jti(), now, &policy())
        .expect("the current token rotates");
    (next, change)
}

async fn a_created_family_is_found_by_id_and_by_its_token(s: Store) {
    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let found = s.sessions.find(family.id()).await.expect("find");
    assert_eq!(found.as_ref(), Some(&family), "[{}]", s.label);
    let by_token = s
        .sessions
        .find_by_token(family.current().jti)
        .await
        .expect("find");
    assert_eq!(by_token, Some(family.clone()), "[{}]", s.label);
    assert_eq!(
        s.sessions
            .find(FamilyId::new(Uuid::new_v4()))
            .await
            .expect("find"),
        None
    );
    assert_eq!(s.sessions.find_by_token(jti()).await.expect("find"), None);

    let tokens = s.tokens(family.id().get()).await;
    assert_eq!(tokens.len(), 1, "[{}]", s.label);
    assert_eq!(tokens[0].user_id, user.id.get(), "[{}]", s.label);
    assert!(!tokens[0].revoked, "[{}]", s.label);
}

async fn creating_for_a_missing_user_is_missing_and_reused_ids_conflict(s: Store) {
    let ghost = User {
        id: UserId::new(31_337),
        ..s.user("real@example.com").await
    };
    let orphan = s.sessions.create(&start(&ghost, at(0))).await;
    assert!(
        matches!(orphan, Err(StoreError::Missing)),
        "[{}] {orphan:?}",
        s.label
    );

    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let same_id = s.sessions.create(&family).await;
    assert!(
        matches!(same_id, Err(StoreError::Conflict)),
        "[{}] {same_id:?}",
        s.label
    );

    let other = SessionFamily::start(
        FamilyId::new(Uuid::new_v4()),
        user.id,
        family.current().jti,
        None,
        at(0),
        &policy(),
    );
    let same_jti = s.sessions.create(&other).await;
    assert!(
        matches!(same_jti, Err(StoreError::Conflict)),
        "[{}] {same_jti:?}",
        s.label
    );
    assert_eq!(
        s.sessions.find(other.id()).await.expect("find"),
        None,
        "[{}]",
        s.label
    );
}

async fn a_rotation_stores_the_successor_and_retires_the_presented_token(s: Store) {
    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let first = family.current().jti;
    let (rotated, change) = rotate(&family, at(60));
    s.sessions.save(&rotated, &change).await.expect("save");

    let stored = s
        .sessions
        .find(family.id())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(stored.current(), rotated.current(), "[{}]", s.label);
    assert_eq!(stored.record().last_used_at, at(60), "[{}]", s.label);
    assert_eq!(
        stored.record().version,
        1,
        "[{}] version incremented",
        s.label
    );
    assert_eq!(stored.current().rotated_from, Some(first), "[{}]", s.label);
    // The retired token still leads to its family (reuse detection needs it).
    let via_old = s
        .sessions
        .find_by_token(first)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(via_old, stored, "[{}]", s.label);

    let tokens = s.tokens(family.id().get()).await;
    assert_eq!(tokens.len(), 2, "[{}]", s.label);
    let (old, new) = (&tokens[0], &tokens[1]);
    assert_eq!(old.jti, first.get(), "[{}]", s.label);
    assert!(old.revoked, "[{}]", s.label);
    assert_eq!(
        old.revoked_reason.as_deref(),
        Some(ROTATED),
        "[{}]",
        s.label
    );
    assert_eq!(old.replaced_by_jti, Some(new.jti), "[{}]", s.label);
    assert!(!new.revoked, "[{}]", s.label);
    assert_eq!(new.rotated_from_jti, Some(first.get()), "[{}]", s.label);

    // A second rotation from the stored state works (the version moved on).
    let (again, change) = rotate(&stored, at(120));
    s.sessions.save(&again, &change).await.expect("second save");
    assert_eq!(s.tokens(family.id().get()).await.len(), 3, "[{}]", s.label);
}

async fn a_save_from_a_stale_version_is_a_conflict_and_writes_nothing(s: Store) {
    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let (rotated, change) = rotate(&family, at(60));
    s.sessions.save(&rotated, &change).await.expect("save");

    let (stale, stale_change) = rotate(&family, at(61));
    let outcome = s.sessions.save(&stale, &stale_change).await;
    assert!(
        matches!(outcome, Err(StoreError::Conflict)),
        "[{}] {outcome:?}",
        s.label
    );
    let stored = s
        .sessions
        .find(family.id())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(stored.current(), rotated.current(), "[{}]", s.label);
    assert_eq!(stored.record().version, 1, "[{}]", s.label);
    assert_eq!(
        s.tokens(family.id().get()).await.len(),
        2,
        "[{}] no token of the loser",
        s.label
    );

    let never_stored = start(&user, at(0));
    let (next, change) = rotate(&never_stored, at(1));
    let outcome = s.sessions.save(&next, &change).await;
    assert!(
        matches!(outcome, Err(StoreError::Missing)),
        "[{}] {outcome:?}",
        s.label
    );
}

async fn reuse_revokes_the_family_and_every_live_token_of_it(s: Store) {
    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let first = family.current().jti;
    let (rotated, change) = rotate(&family, at(60));
    s.sessions.save(&rotated, &change).await.expect("save");

    // The retired token comes back after the grace window: reuse.
    let mut loaded = s
        .sessions
        .find_by_token(first)
        .await
        .expect("find")
        .expect("exists");
    let rejection = loaded
        .refresh(first, jti(), at(600), &policy())
        .expect_err("reuse is refused");
    assert!(
        matches!(rejection, RefreshRejection::ReuseDetected(_)),
        "[{}]",
        s.label
    );
    let change = rejection.change().expect("reuse changes the family");
    s.sessions
        .save(&loaded, &change)
        .await
        .expect("save revocation");

    let stored = s
        .sessions
        .find(family.id())
        .await
        .expect("find")
        .expect("exists");
    let revocation = stored.revocation().expect("revoked");
    assert_eq!(
        (revocation.reason, revocation.at),
        (RevocationReason::ReuseDetected, at(600)),
        "[{}]",
        s.label
    );
    assert!(!stored.is_live(at(600)), "[{}]", s.label);
    let tokens = s.tokens(family.id().get()).await;
    assert!(tokens.iter().all(|t| t.revoked), "[{}]", s.label);
    let reasons: Vec<_> = tokens.iter().map(|t| t.revoked_reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [Some(ROTATED), Some("reuse_detected")],
        "[{}]",
        s.label
    );
}

async fn the_live_list_holds_unrevoked_unexpired_families_newest_first(s: Store) {
    let user = s.user("user@example.com").await;
    let other = s.user("other@example.com").await;
    let older = login(&s, &user, at(0)).await;
    let newer = login(&s, &user, at(10)).await;
    let mut revoked = login(&s, &user, at(20)).await;
    let expired = login(&s, &user, at(-31 * 86_400)).await;
    login(&s, &other, at(30)).await;
    let change = revoked
        .revoke(RevocationReason::Logout, at(25))
        .expect("first revocation");
    s.sessions.save(&revoked, &change).await.expect("save");

    let live = s.sessions.list_live(user.id, at(100)).await.expect("list");
    let ids: Vec<FamilyId> = live.iter().map(SessionFamily::id).collect();
    assert_eq!(ids, [newer.id(), older.id()], "[{}]", s.label);
    assert!(!ids.contains(&expired.id()), "[{}]", s.label);
}

/// `Users::find_in_live_session` answers the user only while the named family is theirs, not
/// revoked (logout, reuse, logout-all) and its current token not expired.
async fn a_user_is_found_in_a_session_only_while_that_session_is_live(s: Store) {
    let user = s.user("user@example.com").await;
    let other = s.user("other@example.com").await;
    let live = login(&s, &user, at(0)).await;
    let others = login(&s, &other, at(0)).await;
    let mut logged_out = login(&s, &user, at(0)).await;
    let change = logged_out
        .revoke(RevocationReason::Logout, at(5))
        .expect("first revocation");
    s.sessions.save(&logged_out, &change).await.expect("save");
    let reused = login(&s, &user, at(0)).await;
    let (mut rotated, change) = rotate(&reused, at(1));
    s.sessions.save(&rotated, &change).await.expect("rotate");
    let reloaded = s.sessions.find(rotated.id()).await.expect("find");
    rotated = reloaded.expect("stored");
    let rejection = rotated
        .refresh(reused.current().jti, jti(), at(60), &policy())
        .expect_err("replay after the grace window");
    let change = rejection.change().expect("reuse revokes");
    s.sessions.save(&rotated, &change).await.expect("revoke");

    let find = |family: FamilyId, now: Timestamp| {
        let users = s.users.clone();
        let id = user.id;
        async move {
            users
                .find_in_live_session(id, family, now)
                .await
                .expect("find")
        }
    };
    assert_eq!(
        find(live.id(), at(10)).await,
        Some(user.clone()),
        "[{}]",
        s.label
    );
    assert_eq!(
        find(others.id(), at(10)).await,
        None,
        "[{}] not theirs",
        s.label
    );
    assert_eq!(find(logged_out.id(), at(10)).await, None, "[{}]", s.label);
    assert_eq!(find(reused.id(), at(70)).await, None, "[{}] reuse", s.label);
    assert_eq!(
        find(FamilyId::new(Uuid::new_v4()), at(10)).await,
        None,
        "[{}] unknown family",
        s.label
    );
    let expiry = live.current().expires_at;
    assert_eq!(
        find(live.id(), expiry).await,
        None,
        "[{}] expired at its current token's expiry",
        s.label
    );
    // A rotation moves the expiry that counts to the new current token's.
    let sliding = login(&s, &user, at(0)).await;
    let first_expiry = sliding.current().expires_at;
    let (slid, change) = rotate(&sliding, at(100));
    s.sessions.save(&slid, &change).await.expect("rotate");
    assert!(slid.current().expires_at > first_expiry);
    assert_eq!(
        find(slid.id(), first_expiry).await,
        Some(user.clone()),
        "[{}] live past its first token's expiry once rotated",
        s.label
    );
    assert_eq!(
        find(slid.id(), slid.current().expires_at).await,
        None,
        "[{}] expired at the rotated token's expiry",
        s.label
    );

    s.sessions
        .revoke_all(user.id, RevocationReason::LogoutAll, at(20))
        .await
        .expect("revoke all");
    assert_eq!(
        find(live.id(), at(30)).await,
        None,
        "[{}] logout-all",
        s.label
    );
    assert!(
        s.users.find(user.id).await.expect("find").is_some(),
        "[{}] the user is still there",
        s.label
    );
}

/// `m20261209_000008` adds `session_families.current_expires_at` to families that exist: each
/// takes its current token's expiry, so no session ends or outlives its token by the upgrade.
async fn the_migration_fills_each_familys_expiry_from_its_current_token(s: Store) {
    let user = s.user("user@example.com").await;
    let kept = login(&s, &user, at(0)).await;
    let (rotated, change) = rotate(&login(&s, &user, at(0)).await, at(100));
    s.sessions.save(&rotated, &change).await.expect("rotate");
    keel_persistence::migrate_down(&s.conn, Some(1))
        .await
        .expect("down one");
    keel_persistence::migrate_up(&s.conn).await.expect("up");
    for family in [&kept, &rotated] {
        let expiry = family.current().expires_at;
        let find = |now: Timestamp| {
            let users = s.users.clone();
            let id = user.id;
            let family = family.id();
            async move {
                users
                    .find_in_live_session(id, family, now)
                    .await
                    .expect("find")
            }
        };
        let just_before = Timestamp::new(expiry.as_offset_date_time() - Duration::seconds(1));
        assert_eq!(find(just_before).await, Some(user.clone()), "[{}]", s.label);
        assert_eq!(find(expiry).await, None, "[{}]", s.label);
    }
}

async fn revoking_all_revokes_every_unrevoked_family_of_the_user_and_their_tokens(s: Store) {
    let user = s.user("user@example.com").await;
    let other = s.user("other@example.com").await;
    let a = login(&s, &user, at(0)).await;
    let b = login(&s, &user, at(1)).await;
    let (b_rotated, change) = rotate(&b, at(2));
    s.sessions
        .save(&b_rotated, &change)
        .await
        .expect("rotate b");
    let mut c = login(&s, &user, at(3)).await;
    let change = c.revoke(RevocationReason::Logout, at(4)).expect("revoke c");
    s.sessions.save(&c, &change).await.expect("save c");
    let untouched = login(&s, &other, at(5)).await;

    let count = s
        .sessions
        .revoke_all(user.id, RevocationReason::LogoutAll, at(9))
        .await
        .expect("revoke all");
    assert_eq!(count, 2, "[{}] a and b; c was revoked already", s.label);
    for family in [&a, &b] {
        let stored = s
            .sessions
            .find(family.id())
            .await
            .expect("find")
            .expect("exists");
        let revocation = stored.revocation().expect("revoked");
        assert_eq!(
            (revocation.reason, revocation.at),
            (RevocationReason::LogoutAll, at(9)),
            "[{}]",
            s.label
        );
        assert!(
            s.tokens(family.id().get()).await.iter().all(|t| t.revoked),
            "[{}]",
            s.label
        );
    }
    let c_stored = s
        .sessions
        .find(c.id())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(
        c_stored.revocation().map(|r| r.reason),
        Some(RevocationReason::Logout),
        "[{}] the first reason is kept",
        s.label
    );
    let b_reasons: Vec<_> = s
        .tokens(b.id().get())
        .await
        .into_iter()
        .map(|t| t.revoked_reason)
        .collect();
    assert_eq!(
        b_reasons,
        [Some(ROTATED.to_owned()), Some("logout_all".to_owned())],
        "[{}]",
        s.label
    );
    let other_stored = s
        .sessions
        .find(untouched.id())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(other_stored.revocation(), None, "[{}]", s.label);
    assert!(
        s.sessions
            .list_live(user.id, at(10))
            .await
            .expect("list")
            .is_empty()
    );

    // A save loaded before the revocation must not resurrect the family.
    let (stale, change) = rotate(&a, at(11));
    let outcome = s.sessions.save(&stale, &change).await;
    assert!(
        matches!(outcome, Err(StoreError::Conflict)),
        "[{}] {outcome:?}",
        s.label
    );

    let again = s
        .sessions
        .revoke_all(user.id, RevocationReason::LogoutAll, at(12))
        .await
        .expect("revoke all again");
    assert_eq!(again, 0, "[{}]", s.label);
}

async fn of_two_concurrent_rotations_of_one_loaded_family_exactly_one_is_stored(s: Store) {
    let user = s.user("user@example.com").await;
    let family = login(&s, &user, at(0)).await;
    let loaded = s
        .sessions
        .find(family.id())
        .await
        .expect("find")
        .expect("exists");
    let first = rotate(&loaded, at(60));
    let second = rotate(&loaded, at(60));

    let sessions = Arc::new(s.sessions.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for (next, change) in [first, second] {
        let sessions = Arc::clone(&sessions);
        tasks.spawn(async move { sessions.save(&next, &change).await });
    }
    let outcomes = tasks.join_all().await;
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict)))
        .count();
    assert_eq!((ok, conflicts), (1, 1), "[{}] {outcomes:?}", s.label);

    let stored = s
        .sessions
        .find(family.id())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(stored.record().version, 1, "[{}]", s.label);
    let tokens = s.tokens(family.id().get()).await;
    assert_eq!(tokens.len(), 2, "[{}] only the winner's token", s.label);
    assert_eq!(tokens[1].jti, stored.current().jti.get(), "[{}]", s.label);
}
