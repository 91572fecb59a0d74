//! The outbox stream sink against a real Redis (`TEST_REDIS_URL`; the tests that need it are in `redis`): the
//! entries are read back with `XRANGE`, and the stream stays near its cap.

use keel_domain::Timestamp;
use keel_domain::outbox::{EventId, EventKey, OutboxEvent};
use keel_ports::{DeliveryError, EventSink};
use keel_redis::stream::RedisStreamSink;
use std::collections::HashMap;
use uuid::Uuid;

use crate::redis_url;

fn event(id: i64) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(id),
        key: EventKey::new(Uuid::from_u128(u128::try_from(id).expect("positive"))),
        topic: "vote.created".to_owned(),
        payload: format!(r#"{{"post_id":{id},"user_id":2}}"#),
        attempts: 0,
        created_at: Timestamp::from_unix_seconds(1_800_000_000).expect("valid"),
    }
}

type Entry = (String, HashMap<String, String>);

#[tokio::test]
async fn a_dead_server_is_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let pool = keel_redis::connect(&format!("redis://127.0.0.1:{port}")).expect("lazy pool");
    let sink = RedisStreamSink::new(pool, "keel:events", 100);
    assert!(matches!(
        sink.deliver(&event(1)).await,
        Err(DeliveryError::Unavailable(_))
    ));
}

/// Needs Redis (`TEST_REDIS_URL`); left out, counted as skipped, when it is not configured.
mod redis {
    use super::*;

    #[tokio::test]
    async fn events_are_appended_with_their_fields_and_the_stream_is_capped() {
        let pool = keel_redis::connect(&redis_url()).expect("pool");
        let stream = format!("keel:test:events:{}", Uuid::new_v4().simple());
        let sink = RedisStreamSink::new(pool.clone(), stream.clone(), 100);
        assert_eq!(sink.name(), "redis");
        for id in 1..=3 {
            sink.deliver(&event(id)).await.expect("xadd");
        }
        let mut connection = pool.get().await.expect("connection");
        let entries: Vec<Entry> = ::redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .query_async(&mut *connection)
            .await
            .expect("xrange");
        assert_eq!(entries.len(), 3);
        let fields = &entries[0].1;
        assert_eq!(fields["id"], "1");
        assert_eq!(fields["event_key"], "00000000-0000-0000-0000-000000000001");
        assert_eq!(fields["topic"], "vote.created");
        assert_eq!(fields["payload"], r#"{"post_id":1,"user_id":2}"#);
        assert_eq!(fields["created_at"], "2027-01-15T08:00:00.000000Z");

        // Approximate cap: well past it, the stream is trimmed to about the cap.
        for id in 4..=1_000 {
            sink.deliver(&event(id)).await.expect("xadd");
        }
        let length: u64 = ::redis::cmd("XLEN")
            .arg(&stream)
            .query_async(&mut *connection)
            .await
            .expect("xlen");
        assert!((100..500).contains(&length), "length {length}");
        let _: () = ::redis::cmd("DEL")
            .arg(&stream)
            .query_async(&mut *connection)
            .await
            .expect("del");
    }

    #[tokio::test]
    async fn a_key_that_is_not_a_stream_refuses() {
        let pool = keel_redis::connect(&redis_url()).expect("pool");
        let key = format!("keel:test:not-a-stream:{}", Uuid::new_v4().simple());
        let mut connection = pool.get().await.expect("connection");
        let _: () = ::redis::cmd("SET")
            .arg(&key)
            .arg("x")
            .query_async(&mut *connection)
            .await
            .expect("set");
        let sink = RedisStreamSink::new(pool.clone(), key.clone(), 100);
        let err = sink.deliver(&event(1)).await.expect_err("WRONGTYPE");
        assert!(matches!(err, DeliveryError::Rejected(_)), "{err}");
        let _: () = ::redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut *connection)
            .await
            .expect("del");
    }
}
