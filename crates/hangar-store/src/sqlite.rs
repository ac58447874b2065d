//! [`SqliteStore`]: opening the database file, pragmas, migrations, error mapping.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use hangar_core::store::StoreError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Connections in the pool. WAL lets readers run beside the one writer.
const MAX_CONNECTIONS: u32 = 8;
/// How long a statement waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite implementation of the store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(SqliteStore { pool })
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
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
