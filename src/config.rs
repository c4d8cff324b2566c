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

    /// Hours before a pending invite expires that its one reminder email goes out; 0 turns
    /// reminders off (so does a lead as long as INVITE_TTL_DAYS: the invite email itself is
    /// that fresh). Sending the invite again clears its reminder.
    #[arg(long, env = "INVITE_REMINDER_HOURS", default_value_t = 48, value_parser = clap::value_parser!(u32).range(0..=2160))]
    pub invite_reminder_hours: u32,

    /// Largest number of database connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,

    /// Failed sign-ins allowed to one account from one client address per
    /// LOGIN_WINDOW_MINUTES. Counted per pair, so that no one can lock a user out from
    /// elsewhere; a successful sign-in forgets the pair's failures.
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_account_and_address: u32,

    /// Failed sign-ins allowed from one client address (to any accounts) per
    /// LOGIN_WINDOW_MINUTES: stops one address guessing across many accounts.
    #[arg(long, env = "LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_address: u32,

    /// The window of both sign-in limits, in minutes (at most a day).
    #[arg(long, env = "LOGIN_WINDOW_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub login_window_minutes: u32,

    /// Minutes without a request after which a session ends.
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value_t = 480, value_parser = clap::value_parser!(u32).range(1..))]
    pub session_idle_minutes: u32,

    /// Hours after sign-in after which a session ends, however active.
    #[arg(long, env = "SESSION_LIFETIME_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..))]
    pub session_lifetime_hours: u32,

    /// Load balancers and proxies whose X-Forwarded-For header is believed, as a
    /// comma-separated list of addresses or networks (e.g. 10.0.0.0/8,192.168.1.5).
    /// Unset: the peer address of the connection is the client's address.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Invites and resends one user may send per hour (a bulk resend counts every invite).
    #[arg(long, env = "INVITES_PER_USER_PER_HOUR", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub invites_per_user_per_hour: u32,

    /// Invites and resends one firm (its team and all its clients) may send per day.
    #[arg(long, env = "INVITES_PER_FIRM_PER_DAY", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub invites_per_firm_per_day: u32,

    /// Invites and resends per hour by someone who has not confirmed their own email
    /// address yet (sign-up is open: this keeps it from being a spam relay).
    #[arg(long, env = "INVITES_PER_UNCONFIRMED_USER_PER_HOUR", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub invites_per_unconfirmed_user_per_hour: u32,

    /// Sign-ups allowed per client address per hour.
    #[arg(long, env = "SIGNUPS_PER_ADDRESS_PER_HOUR", default_value_t = 20)]
    pub signups_per_address_per_hour: u32,

    /// Seconds a stop (SIGTERM or Ctrl-C) waits for requests in flight and the email being
    /// sent before the process exits anyway.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_timeout_seconds: u64,

    /// Seconds a request waits for a database connection before it is answered
    /// "503 Service Unavailable" (the database is away or overloaded).
    #[arg(long, env = "DB_TIMEOUT_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub db_timeout_seconds: u64,

    /// Seconds an email claimed by an instance stays its own. An instance that dies while
    /// sending loses the claim after this long, and the email is sent again by any instance.
    #[arg(long, env = "OUTBOX_LEASE_SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u32).range(5..=86400))]
    pub outbox_lease_seconds: u32,

    /// Emails the outbox sends at once (over that many SMTP connections, reused from one
    /// email to the next).
    #[arg(long, env = "OUTBOX_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub outbox_concurrency: u32,

    /// Token that Prometheus must send (`Authorization: Bearer …`) to read /metrics.
    /// Unset: /metrics answers 404.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Log lines as human-readable text, or as one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Password reset requests allowed per client address per hour; one email address may
    /// be sent three times as many reset emails per hour, from all addresses together.
    #[arg(long, env = "PASSWORD_RESETS_PER_HOUR", default_value_t = 5)]
    pub password_resets_per_hour: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// An address (a network of one) or a network in CIDR notation.
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or network (e.g. 10.0.0.0/8)"))
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
