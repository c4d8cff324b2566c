//! Settings: one struct, from the command line or the environment (names as in SPEC.md).

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Clone, Debug)]
#[command(name = "portico", version, about = "Portico: invite clients and staff into your firm's books.")]
pub struct Settings {
    /// Where the data lives: a SQLite file path, or postgres://user@host/db for PostgreSQL.
    #[arg(long, env = "DATABASE_URL", default_value = "data/portico.db")]
    pub database_url: String,

    /// SMTP server for outgoing email, e.g. smtp://127.0.0.1:2525 or
    /// smtps://user:pass@mail.example.com. Unset: emails stay in the outbox, are logged,
    /// and can be read on the local mailbox page (/dev/mailbox).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of every email.
    #[arg(long, env = "MAIL_FROM", default_value = "Portico <portico@localhost>")]
    pub mail_from: String,

    /// The address users reach Portico at; the base of links in emails.
    /// Default: http://BIND.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Address and port to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Key that signs and encrypts session cookies (and derives invite links), at least
    /// 32 characters. Unset: generated once and kept in DATA_DIR/session.key.
    #[arg(long, env = "SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,

    /// Folder for the generated session key (and the default SQLite file's folder).
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Mark the session cookie Secure (HTTPS only). Default: on when PUBLIC_URL is https.
    #[arg(long, env = "SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,

    /// Days before an invite link expires.
    #[arg(long, env = "INVITE_TTL_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub invite_ttl_days: u32,

    /// Largest number of database connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,

    /// Failed sign-ins allowed per minute, per address and per account.
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
}

impl Settings {
    pub fn public_url(&self) -> String {
        let url = self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.bind));
        url.trim_end_matches('/').to_string()
    }

    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| self.public_url().starts_with("https://"))
    }

    /// The local mailbox page exists only when no SMTP server is configured.
    pub fn dev_mailbox(&self) -> bool {
        self.smtp_url.is_none()
    }
}
