//! Embedding keel-domain in another service: parse inputs once, let the domain decide, persist
//! what it returns. No I/O or runtime is needed; time and ids are arguments.
//!
//! Run with `cargo run -p keel-domain --example embed`.

use keel_domain::Timestamp;
use keel_domain::paging::Page;
use keel_domain::post::{PostId, Title};
use keel_domain::session::{
    FamilyId, RefreshRejection, SessionChange, SessionFamily, SessionPolicy, TokenId,
};
use keel_domain::user::{Email, Password, UserId};
use keel_domain::vote::{Ballot, Direction, VoteCommand};
use std::error::Error;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn main() -> Result<(), Box<dyn Error>> {
    // Parse, don't validate: past this point the values are known to be well-formed.
    let email = Email::parse("  Ada@Example.COM ")?;
    let _password = Password::parse("correct horse battery staple")?;
    let title = Title::parse("Why embed a domain crate?")?;
    let page = Page::new(20, 0)?;
    println!("email {email}, title {:?}, page {page:?}", title.as_str());
    match Password::parse("short") {
        Ok(_) => println!("unexpectedly accepted"),
        Err(refused) => println!("password refused: {refused}"),
    }

    // Sessions: the caller supplies the clock and the ids (a real service would use
    // `Uuid::new_v4()`; fixed ids keep the output stable).
    let policy = SessionPolicy {
        refresh_ttl: Duration::days(30),
        reuse_grace: Duration::seconds(10),
        max_age: Duration::days(90),
    };
    let token = |n: u128| TokenId::new(Uuid::from_u128(n));
    let login = Timestamp::new(OffsetDateTime::now_utc());
    let mut family = SessionFamily::start(
        FamilyId::new(Uuid::from_u128(1)),
        UserId::new(7),
        token(1),
        Some("embed-example/1.0"),
        login,
        &policy,
    );

    let later = login.plus(Duration::minutes(5));
    if let SessionChange::Rotated { retired, issued } =
        family.refresh(token(1), token(2), later, &policy)?
    {
        println!(
            "rotated {retired} -> {} (expires {})",
            issued.jti, issued.expires_at
        );
    }

    // A lost response: the old token comes back at once. Refused, nothing changes.
    let replay = family.refresh(
        token(1),
        token(3),
        later.plus(Duration::seconds(2)),
        &policy,
    );
    println!("replay inside the grace window: {replay:?}");

    // The same token a minute later: someone else holds a copy, so the family is revoked.
    // `change()` is what the store must persist (with its events) for this rejection.
    match family.refresh(
        token(1),
        token(3),
        later.plus(Duration::minutes(1)),
        &policy,
    ) {
        Err(rejection @ RefreshRejection::ReuseDetected(revocation)) => println!(
            "{rejection}: revoked as {} at {} (change to persist: {})",
            revocation.reason.as_str(),
            revocation.at,
            rejection.change().is_some()
        ),
        other => println!("unexpected outcome: {other:?}"),
    }
    println!(
        "the newest token still works: {}",
        family.accepts(token(2), later)
    );

    // Votes: one per user and post; the ballot keeps the count equal to the voters.
    let mut ballot = Ballot::default();
    let post = PostId::new(42);
    for (user, dir) in [(1, 1), (2, 1), (1, 1), (2, 0), (3, 0)] {
        let command = VoteCommand {
            user: UserId::new(user),
            post,
            direction: Direction::from_dir(dir)?,
        };
        match ballot.apply(&command) {
            Ok(change) => println!(
                "user {user} dir={dir}: {change:?} -> {:?}",
                command.events(change)
            ),
            Err(refused) => println!("user {user} dir={dir}: refused ({refused})"),
        }
    }
    println!("post {post}: {} vote(s)", ballot.count());
    Ok(())
}
