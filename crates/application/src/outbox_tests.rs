//! The relay against mocked ports: what is completed, failed, released, and when.

use super::*;
use crate::fixtures::now;
use keel_domain::outbox::EventKey;
use keel_ports::{MockEventSink, MockOutbox, OutboxStats};
use std::sync::Mutex;
use uuid::Uuid;

/// A clock the test (or a sink) moves.
#[derive(Clone)]
struct StepClock(Arc<Mutex<Timestamp>>);

impl StepClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(now())))
    }

    fn advance(&self, by: Duration) {
        let mut at = self.0.lock().expect("clock");
        *at = at.plus(by);
    }
}

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock")
    }
}

fn settings(max_attempts: u32) -> RelaySettings {
    RelaySettings {
        batch_size: 10,
        retry: RetryPolicy::new(max_attempts, Duration::seconds(30)).expect("valid"),
        lease: LeasePolicy::new(Duration::seconds(60), Duration::seconds(10)).expect("valid"),
    }
}

fn event(id: i64, attempts: u32) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(id),
        key: EventKey::new(Uuid::from_u128(u128::try_from(id).expect("positive"))),
        topic: "post.created".to_owned(),
        payload: r#"{"post_id":1,"owner_id":2}"#.to_owned(),
        attempts,
        created_at: now().plus(Duration::seconds(-2)),
    }
}

fn worker() -> WorkerId {
    WorkerId::parse("w1").expect("valid")
}

fn outbox_claiming(events: Vec<OutboxEvent>) -> MockOutbox {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_claim()
        .withf(|w, limit, claimed_at, until| {
            w.as_str() == "w1" && *limit == 10 && *until == claimed_at.plus(Duration::seconds(60))
        })
        .times(1)
        .return_once(move |_, _, _, _| Ok(events));
    outbox
}

fn sink(name: &'static str, fail_ids: &'static [i64]) -> MockEventSink {
    let mut sink = MockEventSink::new();
    sink.expect_name().return_const(name);
    sink.expect_deliver().returning(move |event| {
        if fail_ids.contains(&event.id.get()) {
            Err(DeliveryError::Rejected("HTTP 500".to_owned()))
        } else {
            Ok(())
        }
    });
    sink
}

fn relay(outbox: MockOutbox, sinks: Vec<MockEventSink>, clock: StepClock, max: u32) -> RelayOutbox {
    RelayOutbox::new(
        Arc::new(outbox),
        sinks
            .into_iter()
            .map(|sink| Arc::new(sink) as Arc<dyn EventSink>)
            .collect(),
        Arc::new(clock),
        worker(),
        settings(max),
    )
}

fn ids(raw: &[i64]) -> Vec<EventId> {
    raw.iter().copied().map(EventId::new).collect()
}

#[tokio::test]
async fn delivered_events_are_completed_together_with_their_lag() {
    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 0)]);
    outbox
        .expect_complete()
        .withf(|w, completed, _| w.as_str() == "w1" && completed == ids(&[1, 2]).as_slice())
        .times(1)
        .returning(|_, _, _| Ok(2));
    let report = relay(outbox, vec![sink("log", &[])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!(report.claimed, 2);
    assert_eq!(report.delivered, 2);
    assert_eq!(report.lags, [Duration::seconds(2), Duration::seconds(2)]);
    assert!(!report.was_full(10));
}

#[tokio::test]
async fn a_failed_delivery_is_rescheduled_on_the_backoff_and_the_others_still_complete() {
    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 1)]);
    outbox
        .expect_fail()
        .withf(|_, id, outcome, error, at| {
            let FailureOutcome::Retry {
                attempts,
                available_at,
            } = *outcome
            else {
                return false;
            };
            // The second failure: nominal 60 s, jitter cuts at most 20 %.
            let delay = available_at.since(*at);
            *id == EventId::new(2)
                && attempts == 2
                && delay <= Duration::seconds(60)
                && delay >= Duration::seconds(48)
                && error == "webhook: the receiver refused the event: HTTP 500"
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    outbox
        .expect_complete()
        .withf(|_, completed, _| completed == ids(&[1]).as_slice())
        .returning(|_, _, _| Ok(1));
    let report = relay(outbox, vec![sink("webhook", &[2])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!((report.delivered, report.retried), (1, 1));
    assert_eq!(report.sink_failures, ["webhook"]);
}

#[tokio::test]
async fn the_last_allowed_failure_dead_letters_the_event() {
    let mut outbox = outbox_claiming(vec![event(7, 4)]);
    outbox
        .expect_fail()
        .withf(|_, _, outcome, _, _| *outcome == FailureOutcome::DeadLetter { attempts: 5 })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let report = relay(outbox, vec![sink("log", &[7])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(report.delivered, 0);
}

#[tokio::test]
async fn an_event_whose_leases_exhausted_its_attempts_is_dead_lettered_undelivered() {
    // Event 7 came back from expired leases until its attempts reached the maximum (5): a
    // worker died on it each time. It is not handed to the sink again; event 8 still is.
    let mut outbox = outbox_claiming(vec![event(7, 5), event(8, 4)]);
    outbox
        .expect_fail()
        .withf(|w, id, outcome, error, _| {
            w.as_str() == "w1"
                && *id == EventId::new(7)
                && *outcome == FailureOutcome::DeadLetter { attempts: 5 }
                && error.contains("expired lease")
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    outbox
        .expect_complete()
        .withf(|_, completed, _| completed == ids(&[8]).as_slice())
        .times(1)
        .returning(|_, _, _| Ok(1));
    let mut only_eight = MockEventSink::new();
    only_eight.expect_name().return_const("log");
    only_eight
        .expect_deliver()
        .withf(|event| event.id == EventId::new(8))
        .times(1)
        .returning(|_| Ok(()));
    let report = relay(outbox, vec![only_eight], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!((report.dead_lettered, report.delivered), (1, 1));
    assert_eq!(report.unrecorded, 0);
}

#[tokio::test]
async fn an_unrecorded_dead_letter_is_left_to_the_lease() {
    let mut outbox = outbox_claiming(vec![event(7, 5)]);
    outbox
        .expect_fail()
        .times(1)
        .returning(|_, _, _, _, _| Ok(false));
    let mut never = MockEventSink::new();
    never.expect_name().return_const("log");
    never.expect_deliver().never();
    let report = relay(outbox, vec![never], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!((report.dead_lettered, report.unrecorded), (0, 1));
}

#[tokio::test]
async fn one_refusing_sink_fails_the_event_and_later_sinks_are_not_called() {
    let mut outbox = outbox_claiming(vec![event(1, 0)]);
    outbox
        .expect_fail()
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let first = sink("log", &[]);
    let second = sink("redis", &[1]);
    let mut third = MockEventSink::new();
    third.expect_name().return_const("webhook");
    third.expect_deliver().never();
    let report = relay(outbox, vec![first, second, third], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!(report.sink_failures, ["redis"]);
}

#[tokio::test]
async fn a_stop_before_the_batch_claims_nothing() {
    let mut outbox = MockOutbox::new();
    outbox.expect_claim().never();
    let report = relay(outbox, vec![sink("log", &[])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(true))
        .await
        .expect("batch");
    assert_eq!(report, RelayReport::default());
}

#[tokio::test]
async fn a_stop_during_the_batch_finishes_the_delivery_in_flight_and_releases_the_rest() {
    let stop = Arc::new(AtomicBool::new(false));
    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 0), event(3, 0)]);
    outbox
        .expect_release()
        .withf(|_, released| released == ids(&[2, 3]).as_slice())
        .times(1)
        .returning(|_, _| Ok(2));
    outbox
        .expect_complete()
        .withf(|_, completed, _| completed == ids(&[1]).as_slice())
        .times(1)
        .returning(|_, _, _| Ok(1));
    let mut stopping = MockEventSink::new();
    stopping.expect_name().return_const("log");
    let flag = stop.clone();
    stopping.expect_deliver().times(1).returning(move |_| {
        flag.store(true, Ordering::SeqCst);
        Ok(())
    });
    let report = relay(outbox, vec![stopping], StepClock::new(), 5)
        .run_batch(&stop)
        .await
        .expect("batch");
    assert_eq!((report.delivered, report.released), (1, 2));
}

#[tokio::test]
async fn no_delivery_starts_that_could_outlast_the_lease() {
    let clock = StepClock::new();
    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 0)]);
    outbox
        .expect_release()
        .withf(|_, released| released == ids(&[2]).as_slice())
        .returning(|_, _| Ok(1));
    outbox.expect_complete().returning(|_, _, _| Ok(1));
    let mut slow = MockEventSink::new();
    slow.expect_name().return_const("webhook");
    let moved = clock.clone();
    // The first delivery takes 51 s of a 60 s lease: a second (budget 10 s) could outlast it.
    slow.expect_deliver().times(1).returning(move |_| {
        moved.advance(Duration::seconds(51));
        Ok(())
    });
    let report = relay(outbox, vec![slow], clock, 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!((report.delivered, report.released), (1, 1));
}

#[tokio::test]
async fn store_failures_surface_or_are_left_to_the_lease() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_claim()
        .returning(|_, _, _, _| Err(StoreError::Unavailable("down".into())));
    let err = relay(outbox, vec![sink("log", &[])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect_err("claim fails");
    assert!(matches!(err, RelayError::Claim(_)));

    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 0)]);
    outbox
        .expect_fail()
        .returning(|_, _, _, _, _| Err(StoreError::Unavailable("down".into())));
    outbox
        .expect_complete()
        .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
    let err = relay(outbox, vec![sink("log", &[2])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect_err("complete fails");
    assert!(matches!(err, RelayError::Complete { delivered: 1, .. }));

    // A lost lease: the store marks fewer than were delivered.
    let mut outbox = outbox_claiming(vec![event(1, 0), event(2, 0)]);
    outbox.expect_complete().returning(|_, _, _| Ok(1));
    let report = relay(outbox, vec![sink("log", &[])], StepClock::new(), 5)
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!((report.delivered, report.unrecorded), (1, 1));
}

#[tokio::test]
async fn requeue_and_purge_pass_their_scope_and_cutoff() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_requeue_failed()
        .withf(|topic, at| topic.as_deref() == Some("user.created") && *at == now())
        .returning(|_, _| Ok(3));
    outbox
        .expect_purge_completed()
        .withf(|before| *before == now().plus(Duration::days(-7)))
        .returning(|_| Ok(9));
    outbox.expect_stats().never();
    let outbox: Arc<dyn Outbox> = Arc::new(outbox);
    let clock: Arc<dyn Clock> = Arc::new(StepClock::new());
    let requeued = RequeueFailed::new(outbox.clone(), clock.clone())
        .execute(Some("user.created".to_owned()))
        .await
        .expect("requeue");
    let purged = PurgeCompleted::new(outbox, clock)
        .execute(Duration::days(7))
        .await
        .expect("purge");
    assert_eq!((requeued, purged), (3, 9));
    let _unused = OutboxStats::default();
}

#[tokio::test]
async fn mail_events_go_to_the_mail_sink_only_and_public_events_never_do() {
    let mail_event = OutboxEvent {
        topic: "mail.password_reset".to_owned(),
        payload: r#"{"user_id":1,"email":"a@example.com","token":"secret","expires_at":"x"}"#
            .to_owned(),
        ..event(2, 0)
    };
    let mut outbox = outbox_claiming(vec![event(1, 0), mail_event]);
    outbox
        .expect_complete()
        .withf(|_, completed, _| completed == ids(&[1, 2]).as_slice())
        .times(1)
        .returning(|_, _, _| Ok(2));
    let mut public = MockEventSink::new();
    public.expect_name().return_const("webhook");
    public
        .expect_deliver()
        .withf(|event| event.topic == "post.created")
        .times(1)
        .returning(|_| Ok(()));
    let mut mail = MockEventSink::new();
    mail.expect_name().return_const("smtp");
    mail.expect_deliver()
        .withf(|event| event.topic == "mail.password_reset")
        .times(1)
        .returning(|_| Ok(()));
    let report = relay(outbox, vec![public], StepClock::new(), 5)
        .with_mail_sink(Arc::new(mail))
        .run_batch(&AtomicBool::new(false))
        .await
        .expect("batch");
    assert_eq!(report.delivered, 2);
}
