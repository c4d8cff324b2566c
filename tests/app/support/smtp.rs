//! In-process SMTP sink for black-box tests.
//!
//! Speaks just enough plain SMTP (no TLS, no AUTH) for lettre: EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT, with pipelining and several messages per connection. Every accepted
//! message is decoded with `mail-parser` and kept in memory in arrival order.
#![allow(dead_code)] // each test target uses a different part of the API

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mail_parser::{MessageParser, PartType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// How long [`SmtpSink::wait_for`] waits before failing the test.
const WAIT_TIMEOUT: Duration = Duration::from_secs(15);

/// A received message. `from` and `to` are the SMTP envelope (MAIL FROM / RCPT TO, so Bcc
/// recipients are included); the rest is decoded from the message itself.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The text/plain body (the HTML body converted to text if the mail has no plain part).
    pub text: String,
    /// The text/html body, empty if the mail has none.
    pub html: String,
    /// The message as received, after dot-unstuffing (lossy UTF-8).
    pub raw: String,
    /// The Message-ID header, without its angle brackets (empty if none).
    pub message_id: String,
    /// When the sink accepted it.
    pub at: std::time::Instant,
}

impl Mail {
    /// The first URL in the text body that starts with `prefix`, up to whitespace or one of
    /// `> ) " '`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let rest = &self.text[start..];
        let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '>' | ')' | '"' | '\'')).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }

    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr))
    }
}

/// State shared by the sink handle and the connection tasks.
#[derive(Default)]
struct State {
    messages: Mutex<Vec<Mail>>,
    arrived: Notify,
    refusing: AtomicBool,
    /// How many MAIL commands were refused while `refusing`.
    refused: AtomicUsize,
    /// Milliseconds the sink waits before answering each MAIL (a slow mail server).
    delay_ms: AtomicU64,
}

impl State {
    fn messages(&self) -> MutexGuard<'_, Vec<Mail>> {
        // A panicking test thread must not hide the mails from the other tests' output.
        self.messages.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Owned by the (cloned) handles; stops accepting connections when the last one is dropped.
struct Inner {
    addr: SocketAddr,
    state: Arc<State>,
    /// The accept loop and every open connection, while the sink is up.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    fn tasks(&self) -> MutexGuard<'_, Vec<AbortHandle>> {
        self.tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stop_all(&self) {
        for task in self.tasks().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Accepts connections on `listener`, each served on its own task (registered in `inner`
/// so that `go_down` cuts it).
fn accept_loop(listener: TcpListener, inner: std::sync::Weak<Inner>, state: Arc<State>) -> AbortHandle {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let state = Arc::clone(&state);
                    let task = tokio::spawn(async move {
                        // An I/O error only means the client went away.
                        let _ = serve(stream, &state).await;
                    })
                    .abort_handle();
                    match inner.upgrade() {
                        Some(inner) => inner.tasks().push(task),
                        None => task.abort(),
                    }
                }
                Err(e) => eprintln!("SMTP sink: accept failed: {e}"),
            }
        }
    })
    .abort_handle()
}

/// A running SMTP sink on 127.0.0.1. Cheap to clone; all clones see the same mailbox.
#[derive(Clone)]
pub struct SmtpSink {
    inner: Arc<Inner>,
}

impl SmtpSink {
    /// Binds 127.0.0.1 on a free port and serves each connection on its own tokio task.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("SMTP sink: cannot bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("SMTP sink: no local address");
        let state = Arc::new(State::default());
        let inner = Arc::new(Inner { addr, state: Arc::clone(&state), tasks: Mutex::new(Vec::new()) });
        let accept = accept_loop(listener, Arc::downgrade(&inner), state);
        inner.tasks().push(accept);
        SmtpSink { inner }
    }

    /// A mail server outage: the port is closed (connections are refused) and every open
    /// connection is cut. Messages received so far are kept.
    pub fn go_down(&self) {
        self.inner.stop_all();
    }

    /// Back after `go_down`, on the same port.
    pub async fn come_back(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.inner.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("SMTP sink: cannot bind {} again: {e}", self.inner.addr),
            }
        };
        let accept = accept_loop(listener, Arc::downgrade(&self.inner), Arc::clone(&self.inner.state));
        self.inner.tasks().push(accept);
    }

    /// Forgets the messages received so far that `which` picks (a sign-up's confirmation
    /// email, which tests about invites do not count).
    pub fn forget(&self, which: impl Fn(&Mail) -> bool) {
        self.inner.state.messages().retain(|m| !which(m));
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://{}", self.inner.addr)
    }

    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// All messages received so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        self.inner.state.messages().clone()
    }

    /// How many messages were received so far (without copying them: for polling).
    #[allow(dead_code)]
    pub fn count(&self) -> usize {
        self.inner.state.messages().len()
    }

    /// Waits until at least `n` messages to `to` (case-insensitive) have arrived and returns
    /// all of them in arrival order; panics after 15 s listing what did arrive.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        let state = &self.inner.state;
        let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
        loop {
            // Register for the notification before looking, so that a message arriving in
            // between is not missed.
            let arrived = state.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();

            let found: Vec<Mail> = state.messages().iter().filter(|m| m.is_to(to)).cloned().collect();
            if found.len() >= n {
                return found;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let all = self.messages();
                let summary: Vec<String> = all.iter().map(|m| format!("  to {:?}: {:?}", m.to, m.subject)).collect();
                panic!(
                    "SMTP sink: waited {WAIT_TIMEOUT:?} for {n} mail(s) to {to}, got {}; \
                     {} mail(s) arrived in all:\n{}",
                    found.len(),
                    all.len(),
                    summary.join("\n")
                );
            }
        }
    }

    /// Waits (as `wait_for`) for a message to `to` with this subject; returns the first.
    pub async fn wait_for_subject(&self, to: &str, subject: &str) -> Mail {
        let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
        loop {
            let found = self.messages().into_iter().find(|m| m.is_to(to) && m.subject == subject);
            if let Some(m) = found {
                return m;
            }
            assert!(tokio::time::Instant::now() < deadline, "SMTP sink: no {subject:?} to {to} in {WAIT_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// While `true`, every MAIL FROM is answered with a temporary failure (451).
    pub fn set_refusing(&self, refuse: bool) {
        self.inner.state.refusing.store(refuse, Ordering::SeqCst);
    }

    /// A slow mail server: each MAIL FROM is answered after `delay` (zero: at once), so
    /// that a message is in flight for that long before the sink has it.
    pub fn set_delay(&self, delay: Duration) {
        self.inner.state.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many messages were refused (MAIL FROM answered 451) so far: with
    /// [`messages`](Self::messages), every attempt to send that reached the sink.
    pub fn refused(&self) -> usize {
        self.inner.state.refused.load(Ordering::SeqCst)
    }
}

/// One SMTP session. Replies are written in command order, which is all pipelining needs.
async fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 127.0.0.1 Portico test SMTP sink\r\n").await?;

    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-127.0.0.1\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 127.0.0.1\r\n",
            "MAIL" if state.refusing.load(Ordering::SeqCst) => {
                state.refused.fetch_add(1, Ordering::SeqCst);
                b"451 4.3.0 try again later\r\n"
            }
            "MAIL" => {
                let delay = state.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                // A new MAIL starts a new transaction.
                from = Some(path_arg(command));
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" if from.is_none() => b"503 5.5.1 MAIL first\r\n",
            "RCPT" => {
                to.push(path_arg(command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" if to.is_empty() => b"503 5.5.1 RCPT first\r\n",
            "DATA" => {
                writer.write_all(b"354 end data with <CRLF>.<CRLF>\r\n").await?;
                let raw = read_data(&mut reader).await?;
                let mail = decode(from.take().unwrap_or_default(), std::mem::take(&mut to), raw);
                state.messages().push(mail);
                state.arrived.notify_waiters();
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from = None;
                to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "VRFY" => b"252 2.1.5 cannot verify\r\n",
            "QUIT" => {
                writer.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        writer.write_all(reply).await?;
    }
}

/// The address in `MAIL FROM:<a@b> PARAMS` or `RCPT TO:<a@b>` (empty for the null path).
fn path_arg(command: &str) -> String {
    let arg = command.split_once(':').map_or("", |(_, rest)| rest.trim_start());
    match arg.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or(""),
        None => arg.split(' ').next().unwrap_or(""),
    }
    .to_string()
}

/// Reads the DATA section up to the lone "." line, undoing dot-stuffing (RFC 5321 4.5.2).
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

fn decode(from: String, to: Vec<String>, raw: Vec<u8>) -> Mail {
    let (mut subject, mut text, mut html) = (String::new(), String::new(), String::new());
    let mut message_id = String::new();
    if let Some(message) = MessageParser::default().parse(&raw) {
        subject = message.subject().unwrap_or_default().to_string();
        message_id = message.message_id().unwrap_or_default().to_string();
        text = message.body_text(0).unwrap_or_default().into_owned();
        // body_html(0) would turn a plain-text-only mail into HTML: take real HTML parts only.
        if let Some(PartType::Html(body)) = message.html_part(0).map(|part| &part.body) {
            html = body.to_string();
        }
    }
    Mail {
        from,
        to,
        subject,
        text,
        html,
        raw: String::from_utf8_lossy(&raw).into_owned(),
        message_id,
        at: std::time::Instant::now(),
    }
}
