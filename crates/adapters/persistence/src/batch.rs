//! Writing concurrent requests' writes together: a queue per pool drained by a few writer
//! tasks, each writing what waits as one batch (one statement, one commit).
//!
//! A short write pays per statement, not per row, for the round trip, the commit and its WAL
//! flush, and the pool's check of the connection when it comes back; a batch pays them once
//! (the effect is measured in docs/performance.md; the parts were not separated). A
//! [`Batcher`] queues each write; at most [`WRITERS`] tasks drain the queue, each taking up to
//! [`MAX_BATCH`] waiting items at a time (those that [`BatchWrite::fits`] together) and handing
//! them to its [`BatchWrite`]. With nobody waiting an item is written alone at once: there is
//! no timer, so an idle server adds no latency. The writers are tasks of their own, so a
//! request dropped while its write is in flight (the client went away, a deadline) never drops
//! the write of the others in its batch; its own write is made all the same.

use keel_ports::StoreError;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;
use tracing::Instrument;

/// How many batches of one [`Batcher`] may be written at once.
pub(crate) const WRITERS: usize = 2;
/// The most items one batch holds.
pub(crate) const MAX_BATCH: usize = 64;

/// How a batch of items is written.
pub(crate) trait BatchWrite: Send + Sync + 'static {
    /// What one request writes.
    type Item: Send + 'static;
    /// What it learns from the write.
    type Output: Send + 'static;
    /// The span name of a batch's write.
    const SPAN: &'static str;

    /// Whether `item` may be written in the same batch as `batch` (default: always).
    fn fits(&self, _batch: &[&Self::Item], _item: &Self::Item) -> bool {
        true
    }

    /// Writes `items`; returns each one's outcome, in order.
    fn write(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = Vec<Result<Self::Output, StoreError>>> + Send;
}

/// The queue of one pool's writes of one kind. Cheap to clone.
pub(crate) struct Batcher<W: BatchWrite> {
    writer: Arc<W>,
    queue: Arc<Mutex<Queue<W>>>,
}

impl<W: BatchWrite> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Self {
            writer: Arc::clone(&self.writer),
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<W: BatchWrite> std::fmt::Debug for Batcher<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("span", &W::SPAN)
            .finish_non_exhaustive()
    }
}

struct Queue<W: BatchWrite> {
    waiting: Vec<Waiting<W>>,
    writers: usize,
}

/// An item waiting for its batch, with where its outcome goes.
struct Waiting<W: BatchWrite> {
    item: W::Item,
    answer: oneshot::Sender<Result<W::Output, StoreError>>,
}

impl<W: BatchWrite> Batcher<W> {
    pub(crate) fn new(writer: W) -> Self {
        Self {
            writer: Arc::new(writer),
            queue: Arc::new(Mutex::new(Queue {
                waiting: Vec::new(),
                writers: 0,
            })),
        }
    }

    /// Writes `item` with the next batch it fits in; returns its outcome once that batch is
    /// written.
    pub(crate) async fn write(&self, item: W::Item) -> Result<W::Output, StoreError> {
        let (answer, outcome) = oneshot::channel();
        let start_writer = {
            let mut queue = self.lock();
            queue.waiting.push(Waiting { item, answer });
            let start = queue.writers < WRITERS;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start_writer {
            let batcher = self.clone();
            tokio::spawn(async move { batcher.write_all().await });
        }
        outcome
            .await
            .map_err(|_| crate::error::unreadable("the batch writer stopped before answering"))?
    }

    /// Whether nobody waits and no writer runs.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        let queue = self.lock();
        queue.waiting.is_empty() && queue.writers == 0
    }

    fn lock(&self) -> MutexGuard<'_, Queue<W>> {
        // The queue's state stays consistent whatever panicked while it was held.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A writer: writes batches until nobody waits, then stops.
    async fn write_all(self) {
        let mut slot = WriterSlot {
            batcher: &self,
            held: true,
        };
        loop {
            let Some(batch) = self.next_batch() else {
                slot.held = false;
                return;
            };
            let (items, answers): (Vec<W::Item>, Vec<_>) = batch
                .into_iter()
                .map(|waiting| (waiting.item, waiting.answer))
                .unzip();
            // Debug level: at the default level a batch, which belongs to no request, would
            // start a trace of its own; each request's own store span covers its wait.
            let span = tracing::debug_span!(
                "db.batch",
                otel.name = W::SPAN,
                otel.kind = "client",
                batch = items.len()
            );
            let outcomes = self.writer.write(&items).instrument(span).await;
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // The request may have gone: its write is made all the same.
                let _ = answer.send(outcome);
            }
        }
    }

    /// Takes the next batch off the queue: the oldest waiting items that fit together, up to
    /// [`MAX_BATCH`]; those that do not fit stay, in order. `None` when nobody waits: the
    /// writer's place is then given up, under the same lock a request takes to queue itself,
    /// so that no item ever waits without a writer.
    fn next_batch(&self) -> Option<Vec<Waiting<W>>> {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.writers -= 1;
            return None;
        }
        let mut taken = Vec::with_capacity(queue.waiting.len());
        {
            let mut items: Vec<&W::Item> = Vec::new();
            for waiting in &queue.waiting {
                let take = items.len() < MAX_BATCH && self.writer.fits(&items, &waiting.item);
                if take {
                    items.push(&waiting.item);
                }
                taken.push(take);
            }
        }
        let mut taken = taken.into_iter();
        let (batch, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut queue.waiting)
            .into_iter()
            .partition(|_| taken.next().unwrap_or(false));
        queue.waiting = keep;
        Some(batch)
    }
}

/// Gives a writer's place back if its task ends without doing so (a panic).
struct WriterSlot<'a, W: BatchWrite> {
    batcher: &'a Batcher<W>,
    held: bool,
}

impl<W: BatchWrite> Drop for WriterSlot<'_, W> {
    fn drop(&mut self) {
        if self.held {
            self.batcher.lock().writers -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles numbers; equal numbers never share a batch; records each batch it wrote.
    #[derive(Default)]
    struct Doubler {
        batches: Mutex<Vec<Vec<u32>>>,
    }

    impl BatchWrite for Doubler {
        type Item = u32;
        type Output = u32;
        const SPAN: &'static str = "test.double";

        fn fits(&self, batch: &[&u32], item: &u32) -> bool {
            !batch.contains(&item)
        }

        async fn write(&self, items: &[u32]) -> Vec<Result<u32, StoreError>> {
            self.batches
                .lock()
                .expect("not poisoned")
                .push(items.to_vec());
            tokio::task::yield_now().await;
            items.iter().map(|n| Ok(n * 2)).collect()
        }
    }

    fn queued(batcher: &Batcher<Doubler>, items: impl IntoIterator<Item = u32>) {
        let mut queue = batcher.lock();
        queue.writers = 1;
        for item in items {
            let (answer, _) = oneshot::channel();
            queue.waiting.push(Waiting { item, answer });
        }
    }

    fn items(batch: Option<Vec<Waiting<Doubler>>>) -> Option<Vec<u32>> {
        batch.map(|batch| batch.into_iter().map(|waiting| waiting.item).collect())
    }

    #[test]
    fn items_that_do_not_fit_wait_in_order_for_a_later_batch() {
        let batcher = Batcher::new(Doubler::default());
        queued(&batcher, [1, 1, 2, 1, 3]);
        assert_eq!(items(batcher.next_batch()), Some(vec![1, 2, 3]));
        assert_eq!(items(batcher.next_batch()), Some(vec![1]));
        assert_eq!(items(batcher.next_batch()), Some(vec![1]));
        assert_eq!(items(batcher.next_batch()), None);
        assert!(batcher.is_idle(), "the writer gave its place up");
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_items() {
        let batcher = Batcher::new(Doubler::default());
        let count = u32::try_from(MAX_BATCH).expect("small") + 6;
        queued(&batcher, 0..count);
        let first = items(batcher.next_batch()).expect("a batch");
        assert_eq!(first.len(), MAX_BATCH);
        assert_eq!(first[0], 0);
        assert_eq!(items(batcher.next_batch()).expect("a batch").len(), 6);
    }

    #[tokio::test]
    async fn concurrent_writes_each_get_their_own_outcome_from_few_batches() {
        let batcher = Batcher::new(Doubler::default());
        let mut requests = tokio::task::JoinSet::new();
        for n in 0..100 {
            let batcher = batcher.clone();
            requests.spawn(async move { (n, batcher.write(n % 50).await) });
        }
        while let Some(done) = requests.join_next().await {
            let (n, outcome) = done.expect("a request");
            assert_eq!(outcome.expect("written"), (n % 50) * 2);
        }
        assert!(batcher.is_idle(), "the writers stopped");
        let batches = batcher.writer.batches.lock().expect("not poisoned").clone();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(
            batches.len() < 100,
            "writes queued together share batches: {batches:?}"
        );
        for batch in &batches {
            let mut distinct = batch.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), batch.len(), "no equal items in one batch");
        }
    }
}
