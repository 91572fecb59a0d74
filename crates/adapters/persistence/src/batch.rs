//! Writing concurrent requests' writes together: a queue per pool drained by a few writer
//! tasks, each writing what waits as one batch (one statement, one commit).
//!
//! Under load most of a short write's cost is per statement, not per row: the round trip, the
//! commit and its WAL flush, the pool's check of the connection when it comes back. A
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
            let span = tracing::info_span!(
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
