//! Group commit of session-log writes: every `EventStore::commit` goes to one task that
//! drains whatever commits are waiting and writes them in one SQLite transaction. A commit
//! refused by its checks (a stale session row, a lost lease) writes nothing and fails alone.
//! Under concurrency many commits share one transaction; alone, a plain append is a single
//! statement.

use hangar_core::event_store::{Commit, CommitObserver, Committed};
use hangar_core::store::StoreError;
use sqlx::{Acquire, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::events::{MAX_EVENTS_PER_INSERT, apply_commit, insert_events};
use crate::sqlite::backend;

/// Commits queued before senders wait.
const QUEUE: usize = 4096;
/// Commits written in one transaction at most.
const MAX_BATCH: usize = 256;

struct Request {
    commit: Commit,
    observer: Option<CommitObserver>,
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

    pub(crate) async fn commit(
        &self,
        commit: Commit,
        observer: Option<CommitObserver>,
    ) -> Result<Committed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                commit,
                observer,
                reply,
            })
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
        let (commits, waiters): (Vec<Commit>, Vec<_>) = batch
            .into_iter()
            .map(|r| (r.commit, (r.observer, r.reply)))
            .unzip();
        let results = write_batch(&writer, &commits).await;
        // Observers run here, in commit order, before anyone learns of a later commit.
        for ((observer, reply), result) in waiters.into_iter().zip(results) {
            if let (Ok(committed), Some(observer)) = (&result, observer) {
                observer(committed);
            }
            let _ = reply.send(result);
        }
    }
}

/// Writes the batch in one transaction; returns each commit's result in order.
async fn write_batch(writer: &SqlitePool, batch: &[Commit]) -> Vec<Result<Committed, StoreError>> {
    match try_write_batch(writer, batch).await {
        Ok(results) => results,
        Err(err) => batch.iter().map(|_| Err(clone_error(&err))).collect(),
    }
}

async fn try_write_batch(
    writer: &SqlitePool,
    batch: &[Commit],
) -> Result<Vec<Result<Committed, StoreError>>, StoreError> {
    let mut conn = writer.acquire().await.map_err(backend)?;
    if let [commit] = batch
        && is_single_statement(commit)
    {
        // One INSERT is atomic by itself: no transaction round trips.
        return Ok(vec![apply_commit(&mut conn, commit).await]);
    }
    let mut tx = conn.begin().await.map_err(backend)?;
    let mut results = Vec::with_capacity(batch.len());
    let mut rest = batch;
    while let Some(commit) = rest.first() {
        // A run of plain appends (any sessions) goes in as one INSERT, in order.
        let run = plain_run(rest);
        if run > 1 {
            let commits: Vec<&Commit> = rest[..run].iter().collect();
            for appended in insert_events(&mut tx, &commits).await? {
                results.push(Ok(Committed {
                    appended,
                    processed: Vec::new(),
                }));
            }
            rest = &rest[run..];
            continue;
        }
        // The refusals a commit may meet (stale session row, lost lease) are found before it
        // writes anything, so it fails alone; any other error fails the whole batch.
        match apply_commit(&mut tx, commit).await {
            Ok(committed) => results.push(Ok(committed)),
            Err(refused @ (StoreError::Stale | StoreError::LeaseLost)) => {
                results.push(Err(refused))
            }
            Err(err) => return Err(err),
        }
        rest = &rest[1..];
    }
    tx.commit().await.map_err(backend)?;
    Ok(results)
}

/// How many commits at the start of `commits` are plain appends that fit one `INSERT`.
fn plain_run(commits: &[Commit]) -> usize {
    let mut events = 0;
    commits
        .iter()
        .take_while(|c| {
            events += c.events.len();
            is_single_statement(c) && events <= MAX_EVENTS_PER_INSERT
        })
        .count()
}

/// A commit that is just one multi-row `INSERT`.
fn is_single_statement(commit: &Commit) -> bool {
    commit.session.is_none() && commit.lease_owner.is_none() && commit.processed.is_empty()
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
