//! Self-tests of the test-support modules in tests/app/support (SMTP sink, browser harness).

#[path = "app/support/browser.rs"]
mod browser;
#[path = "app/support/smtp.rs"]
mod smtp;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use smtp::SmtpSink;

fn transport(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(sink.port()).build()
}

fn simple(to: &str, subject: &str) -> Message {
    Message::builder()
        .from("Portico <noreply@portico.test>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body(String::from("hello"))
        .unwrap()
}

const TOKEN: &str = "abcDEF_123-xyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP";

#[tokio::test(flavor = "multi_thread")]
async fn sink_decodes_mime_and_finds_links() {
    let sink = SmtpSink::start().await;
    assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
    let mailer = transport(&sink);
    let link = format!("http://127.0.0.1:1234/invites/{TOKEN}");

    // Lettre picks the transfer encoding for these bodies itself (quoted-printable here).
    let text = format!("Café – 7 days left.\n\nAccept: <{link}>.\nOther: http://127.0.0.1:1234/x\n");
    let html = format!("<p>Café – 7 days left.</p><p><a href=\"{link}\">Accept</a></p>");
    let first = Message::builder()
        .from("Portico <noreply@portico.test>".parse().unwrap())
        .to("Alice <alice@example.com>".parse().unwrap())
        .subject("Café – 7 days")
        .multipart(MultiPart::alternative_plain_html(text.clone(), html.clone()))
        .unwrap();

    // Forced base64 text, and 7-bit HTML with lines that need dot-stuffing.
    let dotted = "<p>\n.one dot\n..two dots\n.\n</p>\n";
    let second = Message::builder()
        .from("noreply@portico.test".parse().unwrap())
        .to("Bob@Example.com".parse().unwrap())
        .bcc("audit@example.com".parse().unwrap())
        .subject("Zugang für Bob – 7 Tage")
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(ContentTransferEncoding::Base64)
                        .body(format!("Grüße! {link}")),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .header(ContentTransferEncoding::SevenBit)
                        .body(String::from(dotted)),
                ),
        )
        .unwrap();

    mailer.send(first).await.expect("first send");
    mailer.send(second).await.expect("second send");

    let alice = sink.wait_for("ALICE@example.com", 1).await;
    assert_eq!(alice.len(), 1);
    let m = &alice[0];
    assert_eq!(m.from, "noreply@portico.test");
    assert_eq!(m.to, ["alice@example.com"]);
    assert_eq!(m.subject, "Café – 7 days");
    assert!(m.raw.contains("=?utf-8?"), "subject should be an encoded word:\n{}", m.raw);
    assert!(m.raw.to_ascii_lowercase().contains("quoted-printable"), "{}", m.raw);
    assert_eq!(m.text.replace("\r\n", "\n"), text);
    assert_eq!(m.html, html);
    assert_eq!(m.link("http://127.0.0.1:1234/invites/").as_deref(), Some(link.as_str()));
    assert_eq!(m.link("http://127.0.0.1:1234/x").as_deref(), Some("http://127.0.0.1:1234/x"));
    assert_eq!(m.link("https://"), None);

    let bob = sink.wait_for("bob@example.com", 1).await;
    let m = &bob[0];
    assert_eq!(m.subject, "Zugang für Bob – 7 Tage");
    assert!(m.raw.contains("base64"), "{}", m.raw);
    assert_eq!(m.text, format!("Grüße! {link}"));
    assert_eq!(m.link("http://127.0.0.1:1234/invites/").as_deref(), Some(link.as_str()));
    assert_eq!(m.html.replace("\r\n", "\n"), dotted);
    // Bcc recipients are in the envelope only.
    assert_eq!(sink.wait_for("audit@example.com", 1).await[0].subject, m.subject);
    assert!(!m.raw.contains("audit@"));

    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn sink_refuses_with_a_transient_error() {
    let sink = SmtpSink::start().await;
    // A clone shares the mailbox and the switch.
    let shared = sink.clone();
    let mailer = transport(&sink);

    shared.set_refusing(true);
    let err = mailer.send(simple("carol@example.com", "first try")).await.unwrap_err();
    assert!(err.is_transient(), "expected a transient error, got {err:?}");
    assert!(sink.messages().is_empty());

    shared.set_refusing(false);
    mailer.send(simple("carol@example.com", "second try")).await.expect("send after refusal");
    let got = sink.wait_for("carol@example.com", 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject, "second try");
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "waited 15s for 1 mail(s) to nobody@example.com, got 0")]
async fn sink_wait_for_times_out_with_a_summary() {
    let sink = SmtpSink::start().await;
    sink.wait_for("nobody@example.com", 1).await;
}

const FORM_PAGE: &str = r#"<!doctype html><title>Form</title>
<form action="/hello" method="get">
  <p><label for="name">Your name</label> <input id="name" name="name" value="placeholder"></p>
  <p><label><input type="checkbox" name="agree" value="yes"> I agree</label></p>
  <button type="submit">Say &quot;hello&quot; (it's free)</button>
</form>"#;

/// Serves the form at / and echoes its fields at /hello (one request per connection).
async fn serve_form() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request);
                let target = request.split(' ').nth(1).unwrap_or("/");
                let (status, body) = match target.split_once('?') {
                    None if target == "/" => ("200 OK", FORM_PAGE.to_string()),
                    Some(("/hello", query)) => {
                        let query = query.replace('+', " ");
                        let field = |k: &str| {
                            query
                                .split('&')
                                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                                .unwrap_or("no")
                                .to_string()
                        };
                        let body =
                            format!("<!doctype html><p>Hello, {}!</p><p>Agreed: {}</p>", field("name"), field("agree"));
                        ("200 OK", body)
                    }
                    _ => ("404 Not Found", "not found".to_string()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_fills_clicks_and_screenshots() {
    if !browser::installed_or_skip("selftest_browser") {
        return;
    }
    let alice = browser::Browser::start("selftest_browser").await;
    let base = serve_form().await;

    alice.goto(&base).await;
    alice.fill("Your name", "Ada Lovelace").await;
    alice.check("I agree").await;
    alice.check("I agree").await; // already ticked: stays ticked
    alice.screenshot("form").await;
    alice.click_text(r#"Say "hello" (it's free)"#).await;
    alice.assert_text("Hello, Ada Lovelace!").await;
    alice.assert_text("Agreed: yes").await;
    alice.screenshot("greeted").await;

    // A second, independent browser at the same time (a second user).
    let bob = browser::Browser::start("selftest_browser").await;
    bob.goto(&base).await;
    bob.click_text(r#"Say "hello" (it's free)"#).await;
    bob.assert_text("Hello, placeholder!").await;
    bob.assert_text("Agreed: no").await;
    bob.screenshot("bob").await;
    assert!(alice.text().await.contains("Ada Lovelace"));

    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/selftest_browser");
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        for name in ["01-form.png", "02-greeted.png", "03-bob.png"] {
            let png = std::fs::read(shots.join(name)).expect(name);
            assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        }
    }
    bob.close().await;
    alice.close().await;
}
