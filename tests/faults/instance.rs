//! The real binary as a child process, on a database and an SMTP sink that outlive it.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use portico::db::{DatabaseLocation, Db};

use crate::support::{PgDatabase, SmtpSink, TestApp, SESSION_KEY};

/// What the instances of one test share: the database, the data folder, the SMTP sink and
/// the session key. `db` is the test's own handle on the database, to check what is there.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub db: Db,
    pub smtp: SmtpSink,
    /// Keeps the test's PostgreSQL database until the stack is dropped.
    _pg: Option<PgDatabase>,
}

/// A free port on 127.0.0.1 (bound, then let go; the app binds it with SO_REUSEADDR).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

/// True when the tests run on PostgreSQL (TEST_DATABASE_URL is set).
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

impl Stack {
    /// A fresh database (a SQLite file in a temp folder, or a fresh PostgreSQL database
    /// when TEST_DATABASE_URL is set) and an SMTP sink.
    pub async fn new() -> Stack {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(admin) => {
                let pg = PgDatabase::create(&admin);
                (pg.url.clone(), Some(pg))
            }
            None => (dir.path().join("portico.db").to_string_lossy().into_owned(), None),
        };
        Stack::on(dir, database_url, pg).await
    }

    /// On a database the test chose (a SQLite file on a small disk, a proxy's address).
    /// `database_url` is what the app is given; the test's own handle uses `check_url`.
    pub async fn on(dir: tempfile::TempDir, database_url: String, pg: Option<PgDatabase>) -> Stack {
        let check = pg.as_ref().map_or(database_url.clone(), |p| p.url.clone());
        Stack::with_check_url(dir, database_url, check, pg).await
    }

    pub async fn with_check_url(
        dir: tempfile::TempDir,
        database_url: String,
        check_url: String,
        pg: Option<PgDatabase>,
    ) -> Stack {
        let location = DatabaseLocation::parse(&check_url);
        let db = tokio::task::spawn_blocking(move || Db::connect(&location, 4))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the test's handle on the database: {e}"));
        Stack { dir, database_url, db, smtp: SmtpSink::start().await, _pg: pg }
    }

    /// Starts the binary on a free port with these extra settings.
    pub async fn start(&self, env: &[(&str, &str)]) -> Instance {
        self.start_on(free_port(), env).await
    }

    /// Starts the binary on `port` (a restart takes its port back) and waits until
    /// /readyz answers 200.
    pub async fn start_on(&self, port: u16, env: &[(&str, &str)]) -> Instance {
        let instance = self.spawn_on(port, env);
        instance.wait_ready(Duration::from_secs(60)).await;
        instance
    }

    /// Starts the binary and does not wait.
    pub fn spawn_on(&self, port: u16, env: &[(&str, &str)]) -> Instance {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = self.dir.path().join(format!("instance-{n}-port-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let base = format!("http://127.0.0.1:{port}");
        let data_dir = self.dir.path().join("data");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("SMTP_URL", self.smtp.url())
            .env("MAIL_FROM", "Portico <portico@portico.test>")
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &base)
            .env("SESSION_KEY", SESSION_KEY)
            .env("DATA_DIR", &data_dir)
            .env("SECURE_COOKIES", "false")
            .env("WORKERS", "2")
            .env("RUST_LOG", "info,actix_server=warn")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the portico binary starts");
        Instance { child: Some(child), port, base, log }
    }

    /// A `TestApp` view of `instance`: sign-up, invites and the database checks of the
    /// black-box tests, against the child process.
    pub fn app(&self, instance: &Instance) -> TestApp {
        TestApp::attached(instance.base.clone(), self.db.clone(), self.smtp.clone())
    }
}

/// One running portico process. Dropping it kills it.
pub struct Instance {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub log: PathBuf,
}

impl Instance {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until /readyz answers 200; panics with the log if the process died or it
    /// took longer than `within`.
    pub async fn wait_ready(&self, within: Duration) {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == reqwest::StatusCode::OK {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("portico on port {} was not ready within {within:?}; its log:\n{}", self.port, self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: the process dies at once, with whatever it was doing.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (SIGTERM: a graceful stop).
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    /// Waits for the process to exit; None if it is still running after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}
