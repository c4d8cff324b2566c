//! The data layer: one connection type for SQLite and PostgreSQL, the pool, migrations,
//! and the two ways handlers reach the database (`Db::read`, `Db::write`), both on a
//! blocking thread so the async executor never waits on the database.

pub mod models;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::StartupError;

pub use diesel::result::Error as DieselError;

/// What can go wrong in the data layer. It knows nothing of HTTP: the use cases wrap it,
/// and one place at the edge (`crate::error`) turns it into an answer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database did not answer: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("blocking task failed: {0}")]
    Task(String),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type for both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a `DATABASE_URL` names: `postgres://…` / `postgresql://…` is
/// PostgreSQL; anything else is a SQLite file path (`sqlite://` prefix allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> DatabaseLocation {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseLocation::Postgres(url.to_string())
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            DatabaseLocation::Sqlite(PathBuf::from(path))
        }
    }

    /// For the log: never prints a password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseLocation::Sqlite(p) => format!("SQLite at {}", p.display()),
            DatabaseLocation::Postgres(url) => {
                let without_creds = match (url.find("://"), url.rfind('@')) {
                    (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
                    _ => url.clone(),
                };
                format!("PostgreSQL at {without_creds}")
            }
        }
    }
}

/// Opens connections of the backend the URL names (diesel's own `establish` on the
/// multi-connection would try each backend in turn, and SQLite accepts any string).
struct ConnectionManager {
    location: DatabaseLocation,
    query_counter: Option<Arc<AtomicU64>>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let mut conn = open(&self.location).map_err(r2d2::Error::ConnectionError)?;
        if let DbConnection::Sqlite(c) = &mut conn {
            c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                .map_err(r2d2::Error::QueryError)?;
        }
        if let Some(counter) = &self.query_counter {
            conn.set_instrumentation(QueryCounter(counter.clone(), None));
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Counts the queries a pool runs, so tests can prove a page's query count does not grow
/// with its rows. With RUST_LOG=portico::sql=trace it also logs every statement with the
/// time it took (for profiling a page).
struct QueryCounter(Arc<AtomicU64>, Option<std::time::Instant>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.fetch_add(1, Ordering::Relaxed);
                if tracing::enabled!(target: "portico::sql", tracing::Level::TRACE) {
                    self.1 = Some(std::time::Instant::now());
                }
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                if let Some(started) = self.1.take() {
                    let micros = started.elapsed().as_micros() as u64;
                    tracing::trace!(target: "portico::sql", "{micros:>6} µs  {query}");
                }
            }
            _ => {}
        }
    }
}

fn open(location: &DatabaseLocation) -> Result<DbConnection, diesel::ConnectionError> {
    Ok(match location {
        DatabaseLocation::Postgres(url) => DbConnection::Pg(PgConnection::establish(url)?),
        DatabaseLocation::Sqlite(path) => DbConnection::Sqlite(SqliteConnection::establish(&path.to_string_lossy())?),
    })
}

type Pool = r2d2::Pool<ConnectionManager>;

/// The application's handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    is_sqlite: bool,
    /// SQLite has one writer at a time; writers queue here rather than fail with
    /// "database is locked" when a read transaction tries to become a write one.
    write_lock: Arc<Mutex<()>>,
    queries: Arc<AtomicU64>,
}

impl Db {
    /// Creates the SQLite file and its folder if needed, runs the migrations of the
    /// backend, and builds the pool.
    pub fn connect(location: &DatabaseLocation, max_connections: u32) -> Result<Db, StartupError> {
        Db::connect_with(location, max_connections, Duration::from_secs(5))
    }

    /// As `connect`, with how long a caller waits for a connection before the database
    /// counts as unavailable (DB_TIMEOUT_SECONDS).
    pub fn connect_with(
        location: &DatabaseLocation,
        max_connections: u32,
        timeout: Duration,
    ) -> Result<Db, StartupError> {
        if let DatabaseLocation::Sqlite(path) = location {
            ensure_parent_dir(path)?;
        }
        let mut conn =
            open(location).map_err(|e| StartupError::new(format!("cannot open {}: {e}", location.describe())))?;
        match &mut conn {
            DbConnection::Sqlite(c) => {
                // WAL is a property of the file: set it once, before the pool exists.
                c.batch_execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                    .map_err(|e| StartupError::new(format!("cannot configure SQLite: {e}")))?;
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(|e| StartupError::new(format!("migrations failed: {e}")))?;
            }
            DbConnection::Pg(c) => {
                c.run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map_err(|e| StartupError::new(format!("migrations failed: {e}")))?;
            }
        }
        drop(conn);
        let queries = Arc::new(AtomicU64::new(0));
        let manager = ConnectionManager { location: location.clone(), query_counter: Some(queries.clone()) };
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            // A PostgreSQL connection can die with the network or the server: each one is
            // checked ("SELECT 1") as it leaves the pool. A SQLite file does not go away.
            .test_on_check_out(!matches!(location, DatabaseLocation::Sqlite(_)))
            .connection_timeout(timeout)
            .build(manager)
            .map_err(|e| StartupError::new(format!("cannot build the connection pool: {e}")))?;
        Ok(Db {
            pool,
            is_sqlite: matches!(location, DatabaseLocation::Sqlite(_)),
            write_lock: Arc::new(Mutex::new(())),
            queries,
        })
    }

    /// How many queries this handle's pool has run since start (for tests and benchmarks).
    pub fn query_count(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Answers when the database does (for /healthz).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|c| c.batch_execute("SELECT 1")).await
    }

    /// True when every migration this build knows has been run on the database (for
    /// /readyz: a new instance is not ready until the database has its tables).
    pub async fn migrations_current(&self) -> Result<bool, DbError> {
        self.read_with(|c| {
            let pending = match c {
                DbConnection::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
                DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            };
            pending.map(|p| !p).map_err(|e| DbError::Task(format!("migrations: {e}")))
        })
        .await
    }

    /// Runs read-only queries on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    {
        self.read_with(move |c| f(c).map_err(DbError::from)).await
    }

    /// Runs read-only work that may end in a domain outcome of its own, on a blocking thread.
    pub async fn read_with<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(|e| DbError::Unavailable(e.to_string()))?;
            f(&mut conn)
        })
        .await
    }

    /// Runs plain writes as one transaction on a blocking thread.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    {
        self.transaction(move |c| f(c).map_err(DbError::from)).await
    }

    /// Runs a change as one transaction on a blocking thread: an `Err` (a domain outcome
    /// of the caller's, or a database error) rolls it all back. On SQLite writers queue on
    /// one lock; on PostgreSQL the work itself locks the rows it must (`models::lock_row`).
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let this = self.clone();
        run_blocking(move || this.write_blocking(f)).await
    }

    /// The same as `write`, for code already on a blocking thread (the outbox worker).
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        // The lock first: writers waiting their turn must not hold connections readers need.
        let _guard = if self.is_sqlite {
            Some(self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
        } else {
            None
        };
        let mut conn = self.pool.get().map_err(|e| DbError::Unavailable(e.to_string()))?;
        let sqlite = self.is_sqlite;
        conn.transaction::<T, E, _>(|c| {
            if sqlite {
                // Take SQLite's write lock first, as BEGIN IMMEDIATE would: the lock above
                // serialises this process's writers only, and a transaction that has read
                // cannot wait for another process's (another instance's) writer to finish:
                // its upgrade fails at once with "database is locked". A write statement
                // that changes nothing takes the lock, waiting up to busy_timeout.
                c.batch_execute("UPDATE organizations SET id = id WHERE 0")?;
            }
            f(c)
        })
    }
}

async fn run_blocking<T, E, F>(f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| E::from(DbError::Task(e.to_string())))?
}

fn ensure_parent_dir(path: &Path) -> Result<(), StartupError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StartupError::new(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    Ok(())
}
