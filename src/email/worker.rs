//! Empties the outbox: claims due emails, renders them, sends them with no transaction or
//! connection held, and records the result, retrying with exponential backoff.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{watch, Notify};

use crate::db::models::outbox::{self, Claimed};
use crate::db::models::{account_token, ending, invite, now};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::token::InviteKey;
use crate::domain::InviteId;
use crate::error::{AppError, StartupError};
use crate::metrics::Metrics;
use diesel::QueryResult;

use super::smtp::{SmtpPool, SmtpServer};
use super::RenderedEmail;

/// How a claimed email leaves: over SMTP, or into the log and the local mailbox page.
#[derive(Clone)]
pub enum Transport {
    /// `smtp://`: over Portico's own pooled connections (`super::smtp`).
    Smtp(Arc<SmtpPool>),
    /// `smtps://`: over lettre's pooled transport.
    Smtps(AsyncSmtpTransport<Tokio1Executor>),
    DevMailbox,
}

/// How long one email may take, from connecting to the server's answer to its end.
const SMTP_TIMEOUT: StdDuration = StdDuration::from_secs(20);

impl Transport {
    /// `connections`: how many SMTP connections are kept open for reuse (one per email
    /// sent at once: OUTBOX_CONCURRENCY).
    pub fn from_settings(smtp_url: Option<&str>, connections: u32) -> Result<Transport, StartupError> {
        use lettre::transport::smtp::PoolConfig;
        let unusable = |e: String| StartupError::new(format!("SMTP_URL is not usable: {e}"));
        let Some(url) = smtp_url else { return Ok(Transport::DevMailbox) };
        match SmtpServer::from_url(url).map_err(unusable)? {
            Some(server) => Ok(Transport::Smtp(Arc::new(SmtpPool::new(server, SMTP_TIMEOUT, connections as usize)))),
            None => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| {
                    Transport::Smtps(
                        b.timeout(Some(SMTP_TIMEOUT))
                            .pool_config(PoolConfig::new().max_size(connections.max(1)))
                            .build(),
                    )
                })
                .map_err(|e| unusable(e.to_string())),
        }
    }
}

pub struct Mailer {
    pub db: Db,
    pub transport: Transport,
    pub from: Mailbox,
    pub public_url: String,
    pub key: InviteKey,
    pub wake: Arc<Notify>,
    /// How long a claimed email stays this instance's (OUTBOX_LEASE_SECONDS).
    pub lease: Duration,
    /// How long before a pending invite expires its reminder goes (None: no reminders).
    pub reminder_lead: Option<Duration>,
    pub metrics: Arc<Metrics>,
    /// Emails sent at once (OUTBOX_CONCURRENCY).
    pub concurrency: usize,
    /// Turns true when the process is stopping: the email being sent is finished, the
    /// rest of the batch is let go at once, and nothing more is claimed.
    pub stop: watch::Receiver<bool>,
}

/// Emails claimed at a time (sent `concurrency` at once).
const BATCH: i64 = 50;
const MAX_ATTEMPTS: i32 = 30;

/// 5 s, 10 s, 20 s … up to an hour between attempts.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    Duration::seconds((5i64 << exp).min(3600))
}

impl Mailer {
    /// Runs until told to stop. Wakes when a request queues an email, and once a second.
    pub async fn run(mut self) {
        let (mut pruned_at, mut checked_at): (Option<tokio::time::Instant>, Option<tokio::time::Instant>) =
            (None, None);
        while !self.stopping() {
            // Old abuse-limit counts go every few minutes, whichever instance gets there.
            if pruned_at.is_none_or(|t| t.elapsed() >= StdDuration::from_secs(300)) {
                pruned_at = Some(tokio::time::Instant::now());
                let before = now() - crate::auth::login_limit::keep_for();
                if let Err(e) = self.db.write(move |c| crate::db::models::limits::prune(c, before)).await {
                    tracing::warn!(error = %e, "could not prune old rate events");
                }
            }
            // Access end dates: the readers already treat an end date that has come as no
            // access; here the rows go, with their audit events, and the "ends in 7 days"
            // notices are queued. Only a cheap read when nothing is due, and at most once a
            // second: under a stream of invites the worker wakes for each one.
            if checked_at.is_none_or(|t| t.elapsed() >= StdDuration::from_secs(1)) {
                checked_at = Some(tokio::time::Instant::now());
                if let Err(e) = self.end_access().await {
                    tracing::warn!(error = %e, "could not end access past its end date");
                }
            }
            match self.tick().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: could not claim emails"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                _ = self.stop.changed() => {}
            }
        }
        tracing::info!("outbox: stopped");
    }

    async fn end_access(&self) -> Result<(), DbError> {
        let at = now();
        let lead = self.reminder_lead;
        let (ending_due, reminders_due) = self
            .db
            .read(move |c| {
                let reminders = match lead {
                    Some(lead) => invite::reminders_due(c, at, lead)?,
                    None => false,
                };
                Ok((ending::anything_due(c, at)?, reminders))
            })
            .await?;
        if !ending_due && !reminders_due {
            return Ok(());
        }
        let (ended, notices, reminders) = self
            .db
            .write(move |c| {
                let (ended, notices) =
                    if ending_due { (ending::end_lapsed(c, at)?, ending::send_notices(c, at)?) } else { (0, 0) };
                let reminders = match lead {
                    Some(lead) if reminders_due => invite::send_reminders(c, at, lead)?,
                    _ => 0,
                };
                Ok((ended, notices, reminders))
            })
            .await?;
        if ended > 0 || notices > 0 || reminders > 0 {
            tracing::info!(ended, notices, reminders, "access over time: access ended, notices and reminders queued");
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sends what is due; returns how many emails it handled. A batch is claimed in one
    /// write and sent `concurrency` at a time over pooled SMTP connections; each email is
    /// recorded as sent the moment the mail server has it, so that a crash can send again
    /// only the emails that were in flight (with their Message-ID, so they are known as one).
    pub async fn tick(&self) -> Result<usize, AppError> {
        use futures_util::stream::StreamExt;
        let db = self.db.clone();
        let lease = self.lease;
        let claimed = tokio::task::spawn_blocking(move || {
            db.write_blocking(|c| Ok::<_, DbError>(outbox::claim_due(c, now(), lease, BATCH)?))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
        let n = claimed.len();
        // Rendered (and checked still due) as a batch, a moment before it is sent.
        let rendered = self.render_all(&claimed).await;
        let let_go = std::sync::Mutex::new(Vec::new());
        futures_util::stream::iter(claimed.into_iter().zip(rendered))
            .for_each_concurrent(self.concurrency.max(1), |(item, email)| async {
                if self.stopping() {
                    // Stopping: what has not started is let go, for the next instance to send.
                    let_go.lock().unwrap_or_else(|e| e.into_inner()).push((item.id, item.attempts));
                } else {
                    self.deliver(item, email).await;
                }
            })
            .await;
        let rest = let_go.into_inner().unwrap_or_else(|e| e.into_inner());
        if !rest.is_empty() {
            if let Err(e) = self.db.write(move |c| outbox::release(c, &rest)).await {
                tracing::warn!(error = %e, "outbox: could not let claimed emails go; they are sent when their lease runs out");
            }
        }
        Ok(n)
    }

    /// Sends one email and records what became of it.
    async fn deliver(&self, item: Claimed, email: Result<Option<RenderedEmail>, String>) {
        let (id, invite) = (item.id, item.invite_id);
        let email = match email {
            Ok(Some(email)) => email,
            Ok(None) => {
                // The invite was cancelled or accepted, or the link used or replaced,
                // meanwhile: nothing to send.
                let _ = self.db.write(move |c| outbox::mark_dropped(c, id)).await;
                return;
            }
            Err(e) => {
                self.failed(item, format!("could not prepare the email: {e}")).await;
                return;
            }
        };
        if item.attempts > 1 {
            self.metrics.email_retries.inc();
        }
        let result = match &self.transport {
            Transport::DevMailbox => {
                // Development only (no SMTP_URL): the link goes to the log on purpose.
                let link = email
                    .text
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with(&self.public_url))
                    .unwrap_or("")
                    .to_string();
                tracing::info!(to = %email.to, subject = %email.subject, link = %link, "email kept in the local mailbox (no SMTP_URL): {}/dev/mailbox", self.public_url);
                Ok(())
            }
            Transport::Smtp(pool) => match self.message(&email, &item) {
                Ok(msg) => pool.send(msg.envelope(), &msg.formatted()).await,
                Err(e) => Err(e),
            },
            Transport::Smtps(smtp) => match self.message(&email, &item) {
                Ok(msg) => smtp.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {
                self.metrics.emails_sent.inc();
                if !matches!(self.transport, Transport::DevMailbox) {
                    tracing::info!(outbox_id = id, attempt = item.attempts, "outbox: sent");
                }
                if let Err(e) = self.db.write(move |c| outbox::mark_sent(c, id, invite)).await {
                    tracing::error!(error = %e, outbox_id = id, "outbox: sent, but could not record it");
                }
            }
            Err(e) => self.failed(item, e).await,
        }
    }

    async fn failed(&self, item: Claimed, error: String) {
        self.metrics.email_failures.inc();
        if item.attempts >= MAX_ATTEMPTS {
            self.metrics.emails_given_up.inc();
        }
        let next = now() + backoff(item.attempts);
        tracing::warn!(outbox_id = item.id, attempt = item.attempts, error = %error, "outbox: sending failed; will retry");
        let (id, invite, attempts) = (item.id, item.invite_id, item.attempts);
        if let Err(e) =
            self.db.write(move |c| outbox::mark_failed(c, id, invite, attempts, &error, next, MAX_ATTEMPTS)).await
        {
            tracing::error!(error = %e, "outbox: could not record a failure");
        }
    }

    /// Renders a claimed batch in one trip to the database (one connection, one blocking
    /// call): each email's rendering, or why it could not be prepared.
    async fn render_all(&self, claimed: &[Claimed]) -> Vec<Result<Option<RenderedEmail>, String>> {
        let (url, key, items) = (self.public_url.clone(), self.key.clone(), claimed.to_vec());
        let rendered = self
            .db
            .read_with(move |c| Ok::<_, DbError>(items.iter().map(|i| render_claimed(c, i, &url, &key)).collect()))
            .await;
        match rendered {
            Ok(all) => all,
            // The database is away: none could be prepared; each is tried again later.
            Err(e) => claimed.iter().map(|_| Err(e.to_string())).collect(),
        }
    }

    fn message(&self, email: &RenderedEmail, item: &Claimed) -> Result<Message, String> {
        let to: Mailbox = email.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        Message::builder()
            .message_id(Some(message_id(item, &self.public_url)))
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| format!("could not build the message: {e}"))
    }
}

/// The same Message-ID on every attempt at one outbox row, so that the rare email sent
/// twice (an instance died between the SMTP server's "250 OK" and recording it) can be
/// recognised as one by mail servers and by the fault tests.
pub fn message_id(item: &Claimed, public_url: &str) -> String {
    let host = public_url.split("://").nth(1).unwrap_or(public_url);
    let host = host.split(['/', ':']).next().filter(|h| !h.is_empty()).unwrap_or("portico.invalid");
    format!("<outbox-{}-{}@{host}>", item.id, item.created_at.and_utc().timestamp_micros())
}

/// Renders an "access ends soon" email from its membership. With `only_due`, None when
/// that access was removed, extended or has ended meanwhile (the email is dropped).
pub async fn render_notice_email(
    db: &Db,
    membership: Option<i64>,
    staff: bool,
    to: &str,
    public_url: &str,
    only_due: bool,
) -> Result<Option<RenderedEmail>, AppError> {
    let (to, url) = (to.to_string(), public_url.to_string());
    Ok(db.read(move |c| notice_email(c, membership, staff, &to, &url, only_due)).await?)
}

fn notice_email(
    c: &mut DbConnection,
    membership: Option<i64>,
    staff: bool,
    to: &str,
    public_url: &str,
    only_due: bool,
) -> QueryResult<Option<RenderedEmail>> {
    let Some(membership) = membership else { return Ok(None) };
    let at = if only_due { now() } else { chrono::NaiveDateTime::MIN };
    let notice = crate::db::models::ending::notice(c, membership, staff, at)?;
    Ok(notice.map(|n| super::render_access_ending(&n, to, public_url)))
}

/// Renders an invite's reminder from the database (None, with `only_pending`, for an
/// invite that is no longer pending).
pub async fn render_reminder_email(
    db: &Db,
    id: InviteId,
    public_url: &str,
    key: &InviteKey,
    only_pending: bool,
) -> Result<Option<RenderedEmail>, AppError> {
    let (url, key) = (public_url.to_string(), key.clone());
    Ok(db.read(move |c| invite_email(c, id, &url, &key, only_pending, true)).await?)
}

/// Renders an invite's email from the database. With `only_pending`, None for an invite
/// that is no longer pending.
pub async fn render_invite_email(
    db: &Db,
    id: InviteId,
    public_url: &str,
    key: &InviteKey,
    only_pending: bool,
) -> Result<Option<RenderedEmail>, AppError> {
    let (url, key) = (public_url.to_string(), key.clone());
    Ok(db.read(move |c| invite_email(c, id, &url, &key, only_pending, false)).await?)
}

fn invite_email(
    c: &mut DbConnection,
    id: InviteId,
    public_url: &str,
    key: &InviteKey,
    only_pending: bool,
    reminder: bool,
) -> QueryResult<Option<RenderedEmail>> {
    let Some(inv) = invite::find_by_id(c, id)? else {
        return Ok(None);
    };
    if only_pending && inv.state != invite::PENDING {
        return Ok(None);
    }
    let details = invite::details(c, inv)?;
    Ok(Some(super::render_invite_as(&details, public_url, key, reminder)))
}

/// Renders an email verification or password reset email from its link's row. With
/// `only_usable`, None for a link that was used, replaced or has expired.
pub async fn render_account_email(
    db: &Db,
    token_id: i64,
    public_url: &str,
    key: &InviteKey,
    only_usable: bool,
) -> Result<Option<RenderedEmail>, AppError> {
    let (url, key) = (public_url.to_string(), key.clone());
    Ok(db.read(move |c| account_email(c, token_id, &url, &key, only_usable)).await?)
}

fn account_email(
    c: &mut DbConnection,
    token_id: i64,
    public_url: &str,
    key: &InviteKey,
    only_usable: bool,
) -> QueryResult<Option<RenderedEmail>> {
    let token = account_token::find(c, token_id)?;
    Ok(token.filter(|t| !only_usable || t.is_usable(now())).map(|t| super::render_account(&t, public_url, key)))
}

/// A claimed email as it is to be sent now (None: nothing to send any more: the invite
/// was cancelled or accepted, the link used or replaced, the access extended), or why it
/// could not be prepared.
fn render_claimed(
    c: &mut DbConnection,
    item: &Claimed,
    public_url: &str,
    key: &InviteKey,
) -> Result<Option<RenderedEmail>, String> {
    let rendered = match (item.kind.as_str(), item.invite_id, item.token_id) {
        (outbox::KIND_INVITE, Some(invite), _) => invite_email(c, InviteId(invite), public_url, key, true, false),
        (outbox::KIND_INVITE_REMINDER, Some(invite), _) => {
            invite_email(c, InviteId(invite), public_url, key, true, true)
        }
        (outbox::KIND_VERIFY_EMAIL | outbox::KIND_RESET_PASSWORD, _, Some(token)) => {
            account_email(c, token, public_url, key, true)
        }
        (kind @ (outbox::KIND_ACCESS_ENDING | outbox::KIND_CLIENT_ACCESS_ENDING), _, _) => {
            let staff = kind == outbox::KIND_CLIENT_ACCESS_ENDING;
            notice_email(c, item.membership_id, staff, &item.to_email, public_url, true)
        }
        (
            outbox::KIND_INVITE
            | outbox::KIND_INVITE_REMINDER
            | outbox::KIND_VERIFY_EMAIL
            | outbox::KIND_RESET_PASSWORD,
            _,
            _,
        ) => Ok(None),
        (kind, _, _) => return Err(format!("unknown email kind {kind}")),
    };
    rendered.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff(1).num_seconds(), 5);
        assert_eq!(super::backoff(2).num_seconds(), 10);
        assert_eq!(super::backoff(5).num_seconds(), 80);
        assert_eq!(super::backoff(30).num_seconds(), 3600);
    }
}
