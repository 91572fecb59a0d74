//! Waking the outbox's workers after a commit, outside the write transaction
//! ([`keel_ports::OutboxWaker`]).
//!
//! Why not inside it: PostgreSQL takes one database-wide lock at the commit of every
//! transaction that issued `NOTIFY` and holds it through that commit's WAL flush, so notifying
//! write transactions commit one at a time instead of sharing WAL flushes (group commit). Write
//! transactions therefore notify nobody; once one has committed events, its repository calls
//! [`OutboxWaker::wake`], and [`PgNotifyWaker`] sends `NOTIFY outbox_events` on a connection of
//! its own, coalesced:
//!
//! - the first wake-up after a quiet interval is sent at once (no added latency when idle);
//! - wake-ups that arrive while one is being sent or during the interval after it are folded
//!   into one, sent when the interval ends.
//!
//! So a process sends at most one `NOTIFY` per interval whatever its write rate, and every
//! wake-up is followed by a `NOTIFY` sent after it (after its commit) within one interval plus
//! a round trip. The notifying transaction is the `NOTIFY` alone, with `synchronous_commit =
//! off` (a wake-up needs no durability), so it holds the notify lock only briefly.
//!
//! A wake-up is a hint: a lost one (the connection is down, the process dies between commit and
//! send) costs latency up to the workers' poll interval, never an event.

use keel_ports::OutboxWaker;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, Connection};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a [`PgNotifyWaker`] folds wake-ups into one `NOTIFY` by default.
pub const DEFAULT_WAKE_INTERVAL: Duration = Duration::from_millis(10);
/// The pause after a failed send (the database is down or unreachable): wake-ups fold
/// meanwhile and a reconnection is tried once per pause, not once per interval.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How long connecting may take before a send counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The waker a repository calls after committing events (a debuggable handle on the port).
#[derive(Clone)]
pub(crate) struct Wakeup(Arc<dyn OutboxWaker>);

impl Wakeup {
    pub(crate) fn new(waker: Arc<dyn OutboxWaker>) -> Self {
        Self(waker)
    }

    /// Wakes the workers (returns at once).
    pub(crate) fn wake(&self) {
        self.0.wake();
    }
}

impl std::fmt::Debug for Wakeup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeup").finish_non_exhaustive()
    }
}

/// Wakes nobody: for SQLite, where workers poll (there is no `LISTEN`), and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWakeUps;

impl OutboxWaker for NoWakeUps {
    fn wake(&self) {}
}

/// The outbox waker for `database_url`: a [`PgNotifyWaker`] folding wake-ups over `interval`
/// on PostgreSQL, [`NoWakeUps`] on SQLite.
///
/// # Panics
/// On PostgreSQL, when called outside a tokio runtime (its sender task is spawned on the
/// current one).
#[must_use]
pub fn outbox_waker(database_url: &str, interval: Duration) -> Arc<dyn OutboxWaker> {
    if is_postgres(database_url) {
        Arc::new(PgNotifyWaker::spawn(database_url, interval))
    } else {
        Arc::new(NoWakeUps)
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Sends `NOTIFY outbox_events` on a connection of its own (opened at the first wake-up,
/// re-opened after a failure), at most once per interval (see the module docs). Cheap to
/// clone; the sender task ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct PgNotifyWaker {
    wakes: mpsc::Sender<()>,
}

impl PgNotifyWaker {
    /// Starts the sender task for the PostgreSQL database at `url` on the current tokio
    /// runtime; nothing is connected yet.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    #[must_use]
    pub fn spawn(url: &str, interval: Duration) -> Self {
        Self::spawn_with(Notifier::new(url), interval)
    }

    fn spawn_with(signal: impl Signal + Send + 'static, interval: Duration) -> Self {
        // One slot: a wake-up waiting in it stands for every later one until it is taken.
        let (wakes, pending) = mpsc::channel(1);
        tokio::spawn(coalesce(pending, interval, signal));
        Self { wakes }
    }
}

impl OutboxWaker for PgNotifyWaker {
    fn wake(&self) {
        // `Full`: a wake-up is already pending and this one folds into it. `Closed`: the
        // runtime that ran the sender has shut down; the workers' poll remains.
        let _ = self.wakes.try_send(());
    }
}

/// Sends one signal.
trait Signal {
    /// Sends it; `false` when it could not be sent.
    fn send(&mut self) -> impl Future<Output = bool> + Send;
}

/// The sender loop: a signal for the first pending wake-up, then a pause of `interval` (after
/// a failure, [`RETRY_PAUSE`]) during which wake-ups fold into the one channel slot. Ends when
/// every waker is dropped.
async fn coalesce(mut pending: mpsc::Receiver<()>, interval: Duration, mut signal: impl Signal) {
    while pending.recv().await.is_some() {
        let pause = if signal.send().await {
            interval
        } else {
            RETRY_PAUSE.max(interval)
        };
        tokio::time::sleep(pause).await;
    }
}

/// `NOTIFY` on a dedicated PostgreSQL connection.
struct Notifier {
    url: String,
    connection: Option<PgConnection>,
    failing: bool,
}

impl Notifier {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            connection: None,
            failing: false,
        }
    }

    async fn notify(&mut self) -> Result<(), sqlx::Error> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let mut connection =
                    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&self.url))
                        .await
                        .map_err(|_| {
                            sqlx::Error::Io(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "connecting to PostgreSQL timed out",
                            ))
                        })??;
                sqlx::raw_sql("SET synchronous_commit = off")
                    .execute(&mut connection)
                    .await?;
                self.connection.insert(connection)
            }
        };
        sqlx::raw_sql(NOTIFY).execute(connection).await?;
        Ok(())
    }
}

/// What a wake-up sends (the channel the workers `LISTEN` on; no payload: "look now").
const NOTIFY: &str = "NOTIFY outbox_events";

impl Signal for Notifier {
    async fn send(&mut self) -> bool {
        match self.notify().await {
            Ok(()) => {
                if self.failing {
                    tracing::info!("outbox wake-ups are sent again");
                    self.failing = false;
                }
                true
            }
            Err(error) => {
                self.connection = None;
                if self.failing {
                    tracing::debug!(%error, "sending an outbox wake-up failed again");
                } else {
                    tracing::warn!(%error, "cannot send outbox wake-ups; workers fall back to polling until it recovers");
                    self.failing = true;
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    /// Records when each signal was sent.
    #[derive(Clone, Default)]
    struct Recorder {
        sent: Arc<Mutex<Vec<Instant>>>,
        fail: bool,
    }

    impl Signal for Recorder {
        async fn send(&mut self) -> bool {
            self.sent.lock().expect("lock").push(Instant::now());
            !self.fail
        }
    }

    impl Recorder {
        fn sent(&self) -> Vec<Instant> {
            self.sent.lock().expect("lock").clone()
        }

        async fn wait_for(&self, count: usize) {
            tokio::time::timeout(Duration::from_secs(5), async {
                while self.sent().len() < count {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await
            .expect("the signal was sent in time");
        }
    }

    #[test]
    fn the_channel_is_chosen_by_the_url() {
        assert!(is_postgres("postgres://u@h/db"));
        assert!(is_postgres("postgresql://u@h/db"));
        assert!(!is_postgres("sqlite://keel.db?mode=rwc"));
        assert!(!is_postgres("sqlite::memory:"));
        assert_eq!(
            NOTIFY,
            format!("NOTIFY {}", keel_migrations::OUTBOX_NOTIFY_CHANNEL)
        );
    }

    #[tokio::test]
    async fn a_wake_up_after_a_quiet_interval_is_sent_at_once() {
        let recorder = Recorder::default();
        let waker = PgNotifyWaker::spawn_with(recorder.clone(), Duration::from_secs(3600));
        let woken = Instant::now();
        waker.wake();
        recorder.wait_for(1).await;
        assert!(recorder.sent()[0] - woken < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_burst_of_wake_ups_costs_at_most_one_signal_per_interval_and_none_is_lost() {
        let interval = Duration::from_millis(20);
        let recorder = Recorder::default();
        let waker = PgNotifyWaker::spawn_with(recorder.clone(), interval);
        let started = Instant::now();
        let mut last_wake = started;
        for n in 0..2_000 {
            waker.wake();
            last_wake = Instant::now();
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let burst = last_wake - started;
        // The last wake-up still gets a signal after it, at most about one interval later.
        let deadline = Instant::now() + Duration::from_secs(5);
        while recorder.sent().last().is_none_or(|sent| *sent < last_wake) {
            assert!(Instant::now() < deadline, "the last wake-up was lost");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let sent = recorder.sent();
        for pair in sent.windows(2) {
            assert!(
                pair[1] - pair[0] >= interval,
                "two signals within {interval:?}: {sent:?}"
            );
        }
        let bound = burst.as_millis() / interval.as_millis() + 2;
        assert!(
            (sent.len() as u128) <= bound,
            "{} signals for 2,000 wake-ups over {burst:?} (bound {bound})",
            sent.len()
        );
    }

    #[tokio::test]
    async fn after_a_failure_the_sender_pauses_longer_then_retries() {
        let recorder = Recorder {
            fail: true,
            ..Recorder::default()
        };
        let waker = PgNotifyWaker::spawn_with(recorder.clone(), Duration::from_millis(1));
        waker.wake();
        recorder.wait_for(1).await;
        waker.wake();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(recorder.sent().len(), 1, "retried within the pause");
        recorder.wait_for(2).await;
        let sent = recorder.sent();
        assert!(sent[1] - sent[0] >= RETRY_PAUSE);
    }

    #[tokio::test]
    async fn the_sender_stops_when_the_last_waker_is_dropped() {
        let recorder = Recorder::default();
        let waker = PgNotifyWaker::spawn_with(recorder.clone(), Duration::from_millis(1));
        let clone = waker.clone();
        drop(waker);
        clone.wake();
        recorder.wait_for(1).await;
        drop(clone);
        // The task's only other owner of the recorder is its `signal`: once the loop ends,
        // the task drops it.
        tokio::time::timeout(Duration::from_secs(5), async {
            while Arc::strong_count(&recorder.sent) > 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the sender task ended");
    }
}
