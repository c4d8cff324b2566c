//! Builds the application: database, session key, mailer, outbox worker, routes.
//! Shared by `main` and the tests.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_session::config::CookieContentSecurity;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Logger};
use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::{watch, Notify};

use crate::auth::session_store::DbSessionStore;
use crate::config::{LogFormat, Settings};
use crate::db::{DatabaseLocation, Db};
use crate::domain::token::InviteKey;
use crate::domain::two_factor::TwoFactorKey;
use crate::email::worker::{Mailer, Transport};
use crate::error::StartupError;
use crate::metrics::Metrics;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub public_url: String,
    pub invite_key: InviteKey,
    /// Seals TOTP secrets in the database.
    pub two_factor_key: TwoFactorKey,
    /// Wakes the outbox worker when a request queued an email.
    pub mail_wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn wake_mailer(&self) {
        self.mail_wake.notify_one();
    }

    /// Said after an invite is queued when there is no mail server, so a newcomer finds
    /// the link (the local mailbox shows each person only their own mail).
    pub fn mailbox_hint(&self) -> &'static str {
        if self.settings.dev_mailbox() {
            ". No mail server is set up: the email's link is in Portico's log; \"Copy invite link\" in the invite's ⋯ menu gives one too (with it, they confirm their address before accepting)"
        } else {
            ""
        }
    }

    /// Said after a verification or reset email is queued when there is no mail server.
    pub fn own_mail_hint(&self) -> &'static str {
        if self.settings.dev_mailbox() {
            ". No mail server is set up, so the link is in Portico's log"
        } else {
            ""
        }
    }

    pub fn invite_ttl(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.settings.invite_ttl_days))
    }

    pub fn login_limits(&self) -> crate::auth::login_limit::LoginLimits {
        crate::auth::login_limit::LoginLimits::from_settings(&self.settings)
    }

    pub fn invite_settings(&self) -> crate::usecases::InviteSettings {
        crate::usecases::InviteSettings {
            ttl: self.invite_ttl(),
            key: self.invite_key.clone(),
            limits: crate::usecases::InviteLimits::new(
                self.settings.invites_per_user_per_hour,
                self.settings.invites_per_firm_per_day,
                self.settings.invites_per_unconfirmed_user_per_hour,
            ),
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    mailer: Mailer,
    stop_mailer: watch::Sender<bool>,
    shutdown_timeout: StdDuration,
}

/// Logs to standard output, as text or as one JSON object per line (LOG_FORMAT); RUST_LOG
/// filters.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let location = DatabaseLocation::parse(&settings.database_url);
        let db = {
            let location = location.clone();
            let size = settings.db_pool_size.max(2);
            let timeout = StdDuration::from_secs(settings.db_timeout_seconds);
            tokio::task::spawn_blocking(move || Db::connect_with(&location, size, timeout))
                .await
                .map_err(|e| StartupError::new(e.to_string()))??
        };
        tracing::info!("database: {} (migrated)", location.describe());

        let master = session_key(&settings)?;
        let key = Key::derive_from(&master);
        let invite_key = InviteKey::derive(&master);
        let two_factor_key = TwoFactorKey::derive(&master);
        let listener = listen(&settings.bind)
            .map_err(|e| StartupError::new(format!("cannot listen on {}: {e}", settings.bind)))?;
        let port = listener.local_addr().map_err(|e| StartupError::new(e.to_string()))?.port();
        let mut settings = settings;
        if settings.public_url.is_none() {
            let host = settings.bind.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
            let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
            settings.public_url = Some(format!("http://{host}:{port}"));
        }
        let public_url = settings.public_url();
        let transport = Transport::from_settings(settings.smtp_url.as_deref(), settings.outbox_concurrency)?;
        if settings.dev_mailbox() {
            tracing::warn!(
                "SMTP_URL is not set: emails are kept in the outbox, logged, and readable at {public_url}/dev/mailbox"
            );
        }
        let from =
            settings.mail_from.parse().map_err(|e| StartupError::new(format!("MAIL_FROM is not an address: {e}")))?;
        let mail_wake = Arc::new(Notify::new());
        let metrics = Arc::new(Metrics::new());
        let (stop_mailer, stop) = watch::channel(false);
        let mailer = Mailer {
            db: db.clone(),
            transport,
            from,
            public_url: public_url.clone(),
            key: invite_key.clone(),
            wake: mail_wake.clone(),
            lease: chrono::Duration::seconds(i64::from(settings.outbox_lease_seconds)),
            // Reminders only when they can come after the invite email, not with it.
            reminder_lead: Some(chrono::Duration::hours(i64::from(settings.invite_reminder_hours)))
                .filter(|lead| *lead > chrono::Duration::zero())
                .filter(|lead| *lead < chrono::Duration::days(i64::from(settings.invite_ttl_days))),
            metrics: metrics.clone(),
            concurrency: settings.outbox_concurrency as usize,
            stop,
        };
        let shutdown_timeout = StdDuration::from_secs(settings.shutdown_timeout_seconds);
        let secure = settings.secure_cookies();
        let sessions = DbSessionStore::new(db.clone(), settings.session_idle_minutes, settings.session_lifetime_hours);
        let workers = settings.workers;
        let state = web::Data::new(AppState {
            db: db.clone(),
            settings,
            public_url: public_url.clone(),
            invite_key,
            two_factor_key,
            mail_wake,
            metrics,
        });

        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024).error_handler(|err, _| {
                    tracing::debug!(error = %err, "unreadable form");
                    crate::error::AppError::BadRequest("The form could not be read. Go back and try again.".into())
                        .into()
                }))
                .configure(crate::routes::configure)
                .default_service(web::to(crate::routes::not_found))
                .wrap(from_fn(crate::auth::csrf::guard))
                .wrap(from_fn(crate::auth::session::record_client))
                .wrap(
                    SessionMiddleware::builder(sessions.clone(), key.clone())
                        .cookie_name("portico_session".into())
                        .cookie_secure(secure)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .cookie_content_security(CookieContentSecurity::Private)
                        .build(),
                )
                .wrap(from_fn(crate::auth::edge::edge))
                .wrap(
                    // The path only, never the query; invite tokens are masked.
                    Logger::new("%a \"%{method}xi %{path}xi\" %s %b %Dms")
                        .custom_request_replace("method", |req| req.method().to_string())
                        .custom_request_replace("path", |req| crate::routes::redact_path(req.path())),
                )
                .wrap(from_fn(crate::metrics::record))
        })
        // Stops are this process's own (`run_until_signalled`): it also stops the outbox.
        .disable_signals()
        .shutdown_timeout(shutdown_timeout.as_secs())
        .listen(listener)
        .map_err(|e| StartupError::new(e.to_string()))?;
        if let Some(w) = workers {
            server = server.workers(w.max(1));
        }
        let server = server.run();
        tracing::info!("Portico is listening on {public_url}");
        Ok(Application { port, server, db, mailer, stop_mailer, shutdown_timeout })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until the server stops, with the outbox worker beside it (for the tests: no
    /// OS signals are listened to).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully: no new connections, requests
    /// in flight answered, the email being sent finished, and the process ends within
    /// SHUTDOWN_TIMEOUT_SECONDS.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        self.run_until(stop_signal()).await
    }

    async fn run_until(self, stop: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let Application { server, mailer, stop_mailer, shutdown_timeout, .. } = self;
        let handle = server.handle();
        let mut worker = tokio::spawn(mailer.run());
        let mut server = tokio::spawn(server);
        tokio::select! {
            result = &mut server => {
                let _ = stop_mailer.send(true);
                worker.abort();
                return result.map_err(std::io::Error::other)?;
            }
            () = stop => {}
        }
        tracing::info!(
            timeout_seconds = shutdown_timeout.as_secs(),
            "stopping: no new requests; finishing the requests in flight and the email being sent"
        );
        let _ = stop_mailer.send(true);
        let deadline = tokio::time::Instant::now() + shutdown_timeout;
        let (server_result, worker_result) = tokio::join!(
            async {
                handle.stop(true).await;
                tokio::time::timeout_at(deadline, &mut server).await
            },
            tokio::time::timeout_at(deadline, &mut worker),
        );
        if worker_result.is_err() {
            worker.abort();
            tracing::warn!(
                "stopping: the email being sent did not finish in time; it is sent again when its lease runs out"
            );
        }
        match server_result {
            Ok(joined) => joined.map_err(std::io::Error::other)??,
            Err(_) => tracing::warn!("stopping: requests still in flight after the timeout were cut off"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Listens on BIND with SO_REUSEADDR, so that a restart right after a crash can take the
/// port back while the dead process's connections linger in TIME_WAIT.
fn listen(bind: &str) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address");
    for addr in bind.to_socket_addrs()? {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(1024)) {
            Ok(listener) => return listener.into_std(),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The first SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
            }
            _ => {
                tracing::error!("cannot listen for stop signals");
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SESSION_KEY, or a key generated once and kept in DATA_DIR/session.key.
fn session_key(settings: &Settings) -> Result<Vec<u8>, StartupError> {
    if let Some(k) = &settings.session_key {
        if k.len() < 32 {
            return Err(StartupError::new("SESSION_KEY must be at least 32 characters long"));
        }
        return Ok(k.as_bytes().to_vec());
    }
    let path = settings.data_dir.join("session.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if let Ok(bytes) = STANDARD.decode(existing.trim()) {
            if bytes.len() >= 32 {
                tracing::warn!("SESSION_KEY is not set: using the key kept in {}", path.display());
                return Ok(bytes);
            }
        }
    }
    let mut bytes = vec![0u8; 64];
    getrandom::fill(&mut bytes).map_err(|e| StartupError::new(format!("random source: {e}")))?;
    write_secret(&path, &STANDARD.encode(&bytes))?;
    tracing::warn!(
        "SESSION_KEY is not set: generated one and kept it in {} (set SESSION_KEY in production)",
        path.display()
    );
    Ok(bytes)
}

fn write_secret(path: &Path, content: &str) -> Result<(), StartupError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StartupError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .map_err(|e| StartupError::new(format!("cannot write {}: {e}", path.display())))
}

impl From<StartupError> for std::io::Error {
    fn from(e: StartupError) -> Self {
        std::io::Error::other(e.to_string())
    }
}
