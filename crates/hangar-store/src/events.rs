//! The `EventStore` port on SQLite: the session log, runtime state and leases.

use async_trait::async_trait;
use hangar_core::event_store::{
    Commit, CommitObserver, Committed, EventStore, SessionRecord, SessionWrite, StoredEvent,
};
use hangar_core::store::{ListQuery, Rows, StoreError, Versioned};
use hangar_protocol::session::Session;
use hangar_protocol::time::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::listing::{SortKey, into_rows, push_time_range, push_walk};
use crate::sqlite::{SqliteStore, backend};

/// The columns [`event_from_row`] reads, in order (a macro so queries stay static strings).
macro_rules! event_columns {
    () => {
        "seq, id, type, processed_at, body, private, effective_seq"
    };
}

fn event_from_row(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: row.try_get(0).map_err(backend)?,
        id: row.try_get(1).map_err(backend)?,
        type_name: row.try_get(2).map_err(backend)?,
        processed_at: row
            .try_get::<Option<i64>, _>(3)
            .map_err(backend)?
            .map(Timestamp::from_micros),
        body: row.try_get(4).map_err(backend)?,
        private: row.try_get(5).map_err(backend)?,
        effective_seq: row.try_get(6).map_err(backend)?,
    })
}

fn events_from_rows(rows: &[SqliteRow]) -> Result<Vec<StoredEvent>, StoreError> {
    rows.iter().map(event_from_row).collect()
}

async fn check_lease(
    conn: &mut SqliteConnection,
    session_id: &str,
    owner: &str,
) -> Result<(), StoreError> {
    let held = sqlx::query("SELECT 1 FROM session_leases WHERE session_id = ? AND owner = ?")
        .bind(session_id)
        .bind(owner)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    held.map(|_| ()).ok_or(StoreError::LeaseLost)
}

/// Writes the session row if its revision is still `expected_rev` and — when `lease_owner`
/// is given — the lease is still that owner's, in one statement. When nothing was written,
/// tells a lost lease from a stale row.
async fn write_session(
    conn: &mut SqliteConnection,
    write: &SessionWrite,
    lease_owner: Option<&str>,
) -> Result<(), StoreError> {
    let session = &write.session;
    let body = serde_json::to_string(session).map_err(backend)?;
    let done = sqlx::query(
        "UPDATE sessions SET rev = rev + 1, status = ?, archived_at = ?, body = ?, runtime = ? \
         WHERE id = ? AND rev = ? AND (? IS NULL OR EXISTS \
         (SELECT 1 FROM session_leases WHERE session_id = sessions.id AND owner = ?))",
    )
    .bind(session.status.as_str())
    .bind(session.archived_at.map(Timestamp::as_micros))
    .bind(body)
    .bind(&write.runtime)
    .bind(&session.id)
    .bind(write.expected_rev)
    .bind(lease_owner)
    .bind(lease_owner)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    if let Some(owner) = lease_owner {
        check_lease(conn, &session.id, owner).await?;
    }
    Err(StoreError::Stale)
}

/// Events in one `INSERT` at most (6 bound values each, well under SQLite's limit).
pub(crate) const MAX_EVENTS_PER_INSERT: usize = 2000;

/// Appends the events of `commits`, in order, with one multi-row `INSERT`; returns each
/// commit's events with their `seq`.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    commits: &[&Commit],
) -> Result<Vec<Vec<StoredEvent>>, StoreError> {
    let rows: Vec<(&str, &hangar_core::event_store::EncodedEvent)> = commits
        .iter()
        .flat_map(|c| c.events.iter().map(|e| (c.session_id.as_str(), e)))
        .collect();
    if rows.is_empty() {
        return Ok(commits.iter().map(|_| Vec::new()).collect());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO events (session_id, id, type, processed_at, body, private) ",
    );
    qb.push_values(&rows, |mut row, (session_id, event)| {
        row.push_bind(*session_id)
            .push_bind(&event.id)
            .push_bind(event.type_name)
            .push_bind(event.processed_at.map(Timestamp::as_micros))
            .push_bind(&event.body)
            .push_bind(&event.private);
    });
    qb.push(" RETURNING seq, id");
    let returned = qb.build().fetch_all(&mut *conn).await.map_err(backend)?;
    // RETURNING promises no row order, so seqs are matched back by id.
    let mut seqs = std::collections::HashMap::with_capacity(returned.len());
    for row in &returned {
        let seq: i64 = row.try_get(0).map_err(backend)?;
        let id: String = row.try_get(1).map_err(backend)?;
        seqs.insert(id, seq);
    }
    commits
        .iter()
        .map(|commit| {
            commit
                .events
                .iter()
                .map(|event| {
                    let seq = *seqs.get(&event.id).ok_or_else(|| {
                        StoreError::Backend(format!("no seq for event {}", event.id))
                    })?;
                    Ok(StoredEvent {
                        seq,
                        id: event.id.clone(),
                        type_name: event.type_name.to_owned(),
                        processed_at: event.processed_at,
                        body: event.body.clone(),
                        private: event.private.clone(),
                        effective_seq: None,
                    })
                })
                .collect()
        })
        .collect()
}

pub(crate) async fn apply_commit(
    conn: &mut SqliteConnection,
    commit: &Commit,
) -> Result<Committed, StoreError> {
    match (&commit.session, &commit.lease_owner) {
        (Some(write), owner) => write_session(conn, write, owner.as_deref()).await?,
        (None, Some(owner)) => check_lease(conn, &commit.session_id, owner).await?,
        (None, None) => {}
    }
    let mut committed = Committed::default();
    if !commit.events.is_empty() {
        committed.appended = insert_events(conn, &[commit])
            .await?
            .pop()
            .unwrap_or_default();
    }
    let at = commit.processed_at.unwrap_or_else(Timestamp::now);
    for id in &commit.processed {
        let row = sqlx::query(concat!(
            "UPDATE events SET processed_at = ?, effective_seq = (SELECT MAX(seq) FROM events) \
             WHERE session_id = ? AND id = ? AND processed_at IS NULL RETURNING ",
            event_columns!()
        ))
        .bind(at.as_micros())
        .bind(&commit.session_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
        if let Some(row) = row {
            committed.processed.push(event_from_row(&row)?);
        }
    }
    Ok(committed)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn commit(
        &self,
        commit: Commit,
        observer: Option<CommitObserver>,
    ) -> Result<Committed, StoreError> {
        self.committer.commit(commit, observer).await
    }

    async fn list_events(
        &self,
        session_id: &str,
        query: &ListQuery,
        types: &[String],
    ) -> Result<Rows<StoredEvent>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = "
        ));
        qb.push_bind(session_id.to_owned());
        if !types.is_empty() {
            qb.push(" AND type IN (");
            let mut list = qb.separated(", ");
            for name in types {
                list.push_bind(name.clone());
            }
            qb.push(")");
        }
        push_time_range(&mut qb, "processed_at", &query.created_at);
        let key = match &query.cursor {
            Some(cursor) => Some(SortKey::Int(
                cursor
                    .key
                    .parse()
                    .map_err(|_| StoreError::Backend("bad seq cursor".into()))?,
            )),
            None => None,
        };
        push_walk(&mut qb, "seq", key, query);
        let rows = qb.build().fetch_all(&self.pool).await.map_err(backend)?;
        Ok(into_rows(events_from_rows(&rows)?, query))
    }

    async fn events_after(
        &self,
        session_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(session_id)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        events_from_rows(&rows)
    }

    async fn event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE id = ? AND session_id = ?"
        ))
        .bind(event_id)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn queued_events(&self, session_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = ? AND processed_at IS NULL ORDER BY seq"
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        events_from_rows(&rows)
    }

    async fn session_record(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT rev, body, runtime FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let body: String = row.try_get(1).map_err(backend)?;
        let session: Session = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Some(SessionRecord {
            session: Versioned {
                rev: row.try_get(0).map_err(backend)?,
                value: session,
            },
            runtime: row.try_get(2).map_err(backend)?,
        }))
    }

    async fn acquire_lease(
        &self,
        session_id: &str,
        owner: &str,
        token: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO session_leases (session_id, owner, token, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, \
             token = excluded.token, expires_at = excluded.expires_at \
             WHERE session_leases.owner = excluded.owner OR session_leases.expires_at < ?",
        )
        .bind(session_id)
        .bind(owner)
        .bind(token)
        .bind(until.as_micros())
        .bind(now.as_micros())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(
        &self,
        session_id: &str,
        owner: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM session_leases WHERE session_id = ? AND owner = ? AND token = ?")
            .bind(session_id)
            .bind(owner)
            .bind(token)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn sessions_with_work(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM sessions WHERE status IN ('running', 'rescheduling') \
             UNION SELECT DISTINCT session_id FROM events WHERE processed_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(backend))
            .collect()
    }
}
