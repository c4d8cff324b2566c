//! SMTP connections Portico opens itself, with Nagle's algorithm off (TCP_NODELAY), kept
//! open and reused from one email to the next.
//!
//! Why not lettre's own pool: lettre 0.11.23 opens its sockets with Nagle on, and writes a
//! message's body and its closing `\r\n.\r\n` as two writes; Nagle holds the second until
//! the server acknowledges the first, which the server delays by 40 ms (it has nothing to
//! say until the end of the message). Every email then cost 40 ms of waiting on one
//! connection, whatever the server (measured: 160 emails/s with 8 connections; fixed
//! upstream in lettre's pull request 1159, not released yet). Here lettre still speaks
//! the protocol (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA); only the socket is ours.
//!
//! `smtp://` URLs (plain, or `?tls=required` / `?tls=opportunistic` for STARTTLS, with
//! or without credentials) go this way. `smtps://` (TLS from the first byte) needs a TLS
//! stream lettre cannot be handed from outside: it keeps lettre's pooled transport.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// A connection idle longer than this is asked NOOP before it carries an email (the
/// server may have closed it); one used more recently is taken as it is.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartTls {
    Never,
    /// When the server offers it.
    Opportunistic,
    /// The connection is refused when the server does not offer it.
    Required,
}

/// Where and how to connect, from SMTP_URL (the same URLs lettre's `from_url` takes).
#[derive(Debug)]
pub struct SmtpServer {
    host: String,
    port: u16,
    starttls: StartTls,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl SmtpServer {
    /// The server of an `smtp://` URL; None for `smtps://` (lettre's transport sends those).
    pub fn from_url(url: &str) -> Result<Option<SmtpServer>, String> {
        let url = url::Url::parse(url).map_err(|e| e.to_string())?;
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let starttls = match (url.scheme(), tls.as_deref()) {
            ("smtps", _) => return Ok(None),
            ("smtp", None) => StartTls::Never,
            ("smtp", Some("opportunistic")) => StartTls::Opportunistic,
            ("smtp", Some("required")) => StartTls::Required,
            (scheme, tls) => return Err(format!("unknown scheme {scheme:?} or tls parameter {tls:?}")),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host")?;
        // An IPv6 address comes bracketed in a URL, not in a socket address.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = url.port().unwrap_or(if starttls == StartTls::Never { 25 } else { 587 });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s).decode_utf8().map(Cow::into_owned).map_err(|e| e.to_string())
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let name = url.path().trim_matches('/');
        let hello = if name.is_empty() { ClientId::default() } else { ClientId::Domain(name.to_string()) };
        Ok(Some(SmtpServer { host, port, starttls, credentials, hello }))
    }
}

/// Open connections to one server, reused: at most `keep` are kept while idle.
pub struct SmtpPool {
    server: SmtpServer,
    timeout: Duration,
    keep: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpPool {
    pub fn new(server: SmtpServer, timeout: Duration, keep: usize) -> SmtpPool {
        SmtpPool { server, timeout, keep: keep.max(1), idle: Mutex::new(Vec::new()) }
    }

    /// Sends one message (its envelope and its formatted bytes) and waits for the server's
    /// answer to its end; the connection goes back to the pool only when all went well.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), String> {
        let sent = tokio::time::timeout(self.timeout, async {
            if let Some(mut conn) = self.reusable().await {
                match conn.send(envelope, message).await {
                    Ok(_) => return Ok(conn),
                    // The server answered (a refusal, say): that is the email's answer.
                    Err(e) if e.status().is_some() => return Err(e.to_string()),
                    // The connection broke (the server restarted, or closed it while it
                    // sat idle): once more on a new one. Should the server have taken the
                    // message before the break, it gets it twice with one Message-ID.
                    Err(_) => {}
                }
            }
            let mut conn = self.connect().await?;
            conn.send(envelope, message).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(conn)
        })
        .await
        .map_err(|_| format!("the mail server did not answer within {} s", self.timeout.as_secs()))??;
        self.give_back(sent);
        Ok(())
    }

    /// An idle connection that still answers, if any.
    async fn reusable(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.lock().pop()?;
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < CHECK_AFTER_IDLE || conn.test_connected().await {
                return Some(conn);
            }
        }
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.lock();
        if idle.len() < self.keep {
            idle.push((conn, Instant::now()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection: TCP with TCP_NODELAY, EHLO, STARTTLS as asked, AUTH when the URL
    /// has credentials.
    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let s = &self.server;
        let tcp = tokio::net::TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| format!("could not connect to {}:{}: {e}", s.host, s.port))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello).await.map_err(|e| e.to_string())?;
        let offered = conn.can_starttls();
        match s.starttls {
            StartTls::Required if !offered => return Err("the mail server does not offer STARTTLS".into()),
            StartTls::Required | StartTls::Opportunistic if offered => {
                let tls = TlsParameters::new(s.host.clone()).map_err(|e| e.to_string())?;
                conn.starttls(tls, &s.hello).await.map_err(|e| e.to_string())?;
            }
            _ => {}
        }
        if let Some(credentials) = &s.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(|e| e.to_string())?;
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_as_lettre_reads_them() {
        let s = SmtpServer::from_url("smtp://127.0.0.1:2525").unwrap().unwrap();
        assert_eq!((s.host.as_str(), s.port, s.starttls), ("127.0.0.1", 2525, StartTls::Never));
        assert!(s.credentials.is_none());
        let s = SmtpServer::from_url("smtp://ann%40firm.test:p%2Fss@mail.firm.test?tls=required").unwrap().unwrap();
        assert_eq!((s.host.as_str(), s.port, s.starttls), ("mail.firm.test", 587, StartTls::Required));
        assert_eq!(s.credentials, Some(Credentials::new("ann@firm.test".into(), "p/ss".into())));
        let s = SmtpServer::from_url("smtp://mail.firm.test/portico.firm.test?tls=opportunistic").unwrap().unwrap();
        assert_eq!(s.starttls, StartTls::Opportunistic);
        assert_eq!(s.hello, ClientId::Domain("portico.firm.test".into()));
        let s = SmtpServer::from_url("smtp://[::1]:25").unwrap().unwrap();
        assert_eq!(s.host, "::1");
        assert!(SmtpServer::from_url("smtps://mail.firm.test").unwrap().is_none());
        assert!(SmtpServer::from_url("smtp://mail.firm.test?tls=sometimes").is_err());
        assert!(SmtpServer::from_url("http://mail.firm.test").is_err());
        assert!(SmtpServer::from_url("not a url").is_err());
    }
}
