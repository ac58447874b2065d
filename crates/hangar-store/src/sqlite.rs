//! [`SqliteStore`]: opening the database file, pragmas, migrations, error mapping.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use hangar_core::store::StoreError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Read connections. WAL lets readers run beside the one writer.
const MAX_READERS: u32 = 8;
/// How long a statement waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite implementation of the store.
///
/// Reads use a pool of connections; every write goes through one writer connection. SQLite
/// admits one writer at a time anyway, and queueing writers in the process (fair, no polling)
/// beats letting connections collide on the file lock and sleep in SQLite's busy handler.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: SqlitePool,
    pub(crate) committer: crate::group_commit::Committer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    ///
    /// `synchronous = NORMAL` in WAL mode: a committed transaction survives a crash of the
    /// process (the OS holds the WAL); only an OS crash or power loss can lose the last commits.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_READERS)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let committer = crate::group_commit::Committer::start(writer.clone());
        Ok(SqliteStore {
            pool,
            writer,
            committer,
        })
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Any database failure that is not a rule of ours.
pub(crate) fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

/// Maps a unique-constraint violation to [`StoreError::Duplicate`].
pub(crate) fn write_error(err: sqlx::Error, unique_field: &'static str) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Duplicate {
            field: unique_field,
        },
        _ => backend(err),
    }
}
