//! Group commit of session-log writes: every `EventStore::commit` goes to one task that
//! drains whatever commits are waiting and writes them in one SQLite transaction, each inside
//! its own savepoint (a commit that fails — a stale session row, a lost lease — is rolled back
//! alone). Under concurrency many commits share one transaction; alone, a commit costs what it
//! would anyway.

use hangar_core::event_store::{Commit, Committed};
use hangar_core::store::StoreError;
use sqlx::{Acquire, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::events::apply_commit;
use crate::sqlite::backend;

/// Commits queued before senders wait.
const QUEUE: usize = 4096;
/// Commits written in one transaction at most.
const MAX_BATCH: usize = 256;

struct Request {
    commit: Commit,
    reply: oneshot::Sender<Result<Committed, StoreError>>,
}

/// The handle to the commit task. The task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("session", &self.commit.session_id)
            .finish()
    }
}

impl Committer {
    pub(crate) fn start(writer: SqlitePool) -> Committer {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(run(writer, requests));
        Committer { queue }
    }

    pub(crate) async fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request { commit, reply })
            .await
            .map_err(|_| StoreError::Backend("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the commit task stopped".into()))?
    }
}

async fn run(writer: SqlitePool, mut requests: mpsc::Receiver<Request>) {
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let results = write_batch(&writer, &batch).await;
        for (request, result) in batch.into_iter().zip(results) {
            let _ = request.reply.send(result);
        }
    }
}

/// Writes the batch in one transaction; returns each commit's result in order.
async fn write_batch(writer: &SqlitePool, batch: &[Request]) -> Vec<Result<Committed, StoreError>> {
    match try_write_batch(writer, batch).await {
        Ok(results) => results,
        Err(err) => batch.iter().map(|_| Err(clone_error(&err))).collect(),
    }
}

async fn try_write_batch(
    writer: &SqlitePool,
    batch: &[Request],
) -> Result<Vec<Result<Committed, StoreError>>, StoreError> {
    let mut tx = writer.begin().await.map_err(backend)?;
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        if batch.len() == 1 {
            results.push(apply_commit(&mut tx, &request.commit).await);
            continue;
        }
        let mut savepoint = tx.begin().await.map_err(backend)?;
        match apply_commit(savepoint.acquire().await.map_err(backend)?, &request.commit).await {
            Ok(committed) => {
                savepoint.commit().await.map_err(backend)?;
                results.push(Ok(committed));
            }
            Err(err) => {
                savepoint.rollback().await.map_err(backend)?;
                results.push(Err(err));
            }
        }
    }
    if results.iter().all(Result::is_err) {
        tx.rollback().await.map_err(backend)?;
    } else {
        tx.commit().await.map_err(backend)?;
    }
    Ok(results)
}

fn clone_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Stale => StoreError::Stale,
        StoreError::LeaseLost => StoreError::LeaseLost,
        StoreError::Duplicate { field } => StoreError::Duplicate { field },
        StoreError::Corrupt { id, reason } => StoreError::Corrupt {
            id: id.clone(),
            reason: reason.clone(),
        },
        StoreError::Backend(message) => StoreError::Backend(message.clone()),
    }
}
