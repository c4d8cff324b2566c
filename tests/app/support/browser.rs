//! Headless Chromium driven over WebDriver (fantoccini → a chromedriver child process).
//!
//! Needs Debian's `chromium` and `chromium-driver`. A browser test starts with
//! [`installed_or_skip`]: without them it says `SKIPPED browser test …` on the terminal and
//! the test returns at once, before anything is started — except under CI (env `CI`
//! non-empty), where a missing browser fails the test.
#![allow(dead_code)] // each test target uses a different part of the API

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::time::{sleep, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long element look-ups and `assert_text` retry before failing (covers page loads).
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

/// Screenshot counters per test name, shared by all browsers of one test so that two users'
/// screenshots interleave instead of overwriting each other.
static SHOTS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

pub struct Browser {
    pub client: Client,
    driver: Driver,
    test_name: String,
}

/// chromedriver and the Chromium it starts, killed together when dropped — also when a test
/// panics — then the profile directory is removed.
struct Driver {
    child: Child,
    profile: TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in its own process group (pgid = its pid) and Chromium stays in
        // it; killing only chromedriver would leave Chromium running.
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// Whether Chromium and chromedriver are here to run the browser test `test_name`. Call it
/// first thing in the test and return when it says `false`, so that a test runs whole or not
/// at all.
///
/// When they are missing: under CI (env `CI` non-empty) the test fails; elsewhere it passes
/// after saying `SKIPPED browser test …`. The harness captures what a passing test prints
/// with `println!`/`eprintln!` and never shows it, so the line is also written straight to
/// the process's stderr, which the harness does not capture: it appears in the plain
/// `cargo test` output, above the test's `ok`. (`println!` keeps it in the test's own
/// output as well, for `cargo test -- --show-output`.)
pub fn installed_or_skip(test_name: &str) -> bool {
    if browser_paths().is_some() {
        return true;
    }
    let msg = format!(
        "SKIPPED browser test {test_name}: chromium/chromedriver not found \
         (apt-get install -y chromium chromium-driver)"
    );
    if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        panic!("{msg}");
    }
    println!("{msg}");
    let _ = std::io::stderr().lock().write_all(format!("{msg}\n").as_bytes());
    false
}

/// chromedriver's path, when both it and Chromium are installed.
fn browser_paths() -> Option<PathBuf> {
    find_chromedriver().filter(|_| Path::new(CHROMIUM).exists())
}

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh headless Chromium session.
    /// Panics when Chromium is missing: a test checks [`installed_or_skip`] before anything.
    pub async fn start(test_name: &str) -> Browser {
        Browser::start_with(test_name, true, None).await
    }

    /// Like [`Browser::start`], saving downloads into `dir` without asking.
    pub async fn start_with_downloads(test_name: &str, dir: &Path) -> Browser {
        Browser::start_with(test_name, true, Some(dir)).await
    }

    /// Like [`Browser::start`], with JavaScript turned off for the pages (as a person may
    /// have it); WebDriver's own scripts (`client.execute`) still run.
    pub async fn start_without_js(test_name: &str) -> Browser {
        Browser::start_with(test_name, false, None).await
    }

    async fn start_with(test_name: &str, javascript: bool, downloads: Option<&Path>) -> Browser {
        let driver_path = browser_paths().unwrap_or_else(|| {
            panic!(
                "chromium/chromedriver not found: browser test {test_name} must call \
                 installed_or_skip() before starting anything"
            )
        });

        let port = free_port();
        let profile = TempDir::new().expect("cannot create a temp dir for the Chromium profile");
        let child = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null()) // only its start-up banner
            .process_group(0) // see `Driver::drop`
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let driver = Driver { child, profile };
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until_ready(&webdriver).await;

        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            // Overlay scrollbars, as on phones: the page's layout width is the window's.
            "--hide-scrollbars",
            "--window-size=1280,900",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        args.push(format!("--user-data-dir={}", driver.profile.path().display()));
        let mut caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        if !javascript {
            caps["goog:chromeOptions"]["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        if let Some(dir) = downloads {
            caps["goog:chromeOptions"]["prefs"] = json!({
                "download.default_directory": dir.display().to_string(),
                "download.prompt_for_download": false,
            });
        }
        let serde_json::Value::Object(caps) = caps else { unreachable!() };

        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session via {webdriver}: {e}"));

        // The first browser of a test in this run clears that test's old screenshots.
        let mut shots = SHOTS.lock().unwrap_or_else(|p| p.into_inner());
        let counters = shots.get_or_insert_with(HashMap::new);
        if !counters.contains_key(test_name) {
            counters.insert(test_name.to_string(), 0);
            let _ = std::fs::remove_dir_all(screenshot_dir(test_name));
        }
        drop(shots);

        Browser { client, driver, test_name: test_name.to_string() }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Clicks the first visible link, button, summary, submit input or label whose
    /// whitespace-normalised text is exactly `text`.
    pub async fn click_text(&self, text: &str) {
        let t = xpath_literal(text);
        let xpath = format!(
            "//*[self::a or self::button or self::summary or self::label]\
             [normalize-space(.)={t}] | \
             //input[@type='submit' or @type='button'][normalize-space(@value)={t}]"
        );
        // The page may be replaced between finding and clicking (the previous click's
        // navigation finishing late): then find it again on the new page.
        for _ in 0..50 {
            let element = self.find_visible(&xpath, &format!("link or button {text:?}")).await;
            match element.click().await {
                Ok(()) => return,
                Err(e) if e.to_string().contains("stale element") => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot click {text:?} on {}: {e}", self.url().await),
            }
        }
        panic!("{text:?} kept going stale on {}", self.url().await);
    }

    /// Fills the control labelled `label` (via `<label for=id>` or nested in the label):
    /// clears it and types `value`; for a `<select>`, picks the option with that text.
    pub async fn fill(&self, label: &str, value: &str) {
        let control = self.control(label).await;
        let tag = control.tag_name().await.unwrap_or_default();
        let result = if tag.eq_ignore_ascii_case("select") {
            control.select_by_label(value).await
        } else {
            match control.clear().await {
                Ok(()) => control.send_keys(value).await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            panic!("cannot fill {label:?} with {value:?} on {}: {e}", self.url().await);
        }
    }

    /// Sets the value of the control labelled `label` as a date picker would (a date field's
    /// typed form depends on the browser's locale; its value does not): "2027-03-31".
    pub async fn set_value(&self, label: &str, value: &str) {
        let control = self.control(label).await;
        let element = serde_json::to_value(&control).expect("an element reference");
        self.client
            .execute(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                vec![element, json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot set {label:?} to {value:?}: {e}"));
    }

    /// Ticks the checkbox or radio labelled `label` by clicking its label (no-op if ticked).
    pub async fn check(&self, label: &str) {
        let control = self.control(label).await;
        if control.is_selected().await.unwrap_or(false) {
            return;
        }
        let xpath = format!("//label[normalize-space(.)={}]", xpath_literal(label));
        let element = self.find_visible(&xpath, &format!("label {label:?}")).await;
        self.click(&element, label).await;
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn text(&self) -> String {
        let value = self
            .client
            .execute("return document.body ? document.body.innerText : '';", vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot read the page text: {e}"));
        value.as_str().unwrap_or_default().to_string()
    }

    /// Panics with the page text unless it contains `s` (retrying for a few seconds).
    pub async fn assert_text(&self, s: &str) {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let text = self.text().await;
            if text.contains(s) {
                return;
            }
            if Instant::now() >= deadline {
                panic!("text {s:?} not found on {}; the page says:\n{text}", self.url().await);
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's path (with its query) is exactly `expected`.
    pub async fn assert_path(&self, expected: &str) {
        self.wait_for_path(expected, |p| p == expected).await;
    }

    /// Waits until the page's path (with its query) passes `check`, and returns it; panics
    /// naming `what` and where the browser is after a few seconds.
    pub async fn wait_for_path(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let path = self.path().await;
            if check(&path) {
                return path;
            }
            if Instant::now() >= deadline {
                panic!("expected to be on {what}, but the browser is on {path}");
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's heading (its first `h1`) reads exactly `expected`.
    pub async fn assert_heading(&self, expected: &str) {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let heading = self
                .client
                .execute("var h = document.querySelector('h1'); return h ? h.innerText.trim() : '';", vec![])
                .await
                .unwrap_or_else(|e| panic!("cannot read the heading: {e}"));
            let heading = heading.as_str().unwrap_or_default().to_string();
            if heading == expected {
                return;
            }
            if Instant::now() >= deadline {
                panic!("heading {expected:?} not found on {}; its heading is {heading:?}", self.url().await);
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of each table body row (`tbody tr`) of the page, whitespace collapsed.
    pub async fn rows(&self) -> Vec<String> {
        let value = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll('tbody tr'))\
                 .map(function (r) { return r.innerText.replace(/\\s+/g, ' ').trim(); });",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot read the table rows: {e}"));
        value
            .as_array()
            .map(|rows| rows.iter().map(|r| r.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    }

    /// Waits until a table row containing `needle` also contains each of `words`; returns it.
    pub async fn assert_row(&self, needle: &str, words: &[&str]) -> String {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let rows = self.rows().await;
            if let Some(row) = rows.iter().find(|r| r.contains(needle) && words.iter().all(|w| r.contains(w))) {
                return row.clone();
            }
            if Instant::now() >= deadline {
                panic!("no row with {needle:?} and {words:?} on {}; its rows:\n{}", self.url().await, rows.join("\n"));
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Panics if a table row of the page contains `needle`. It does not wait: call it once
    /// the page is known to be the one to check (its path, heading or flash message seen).
    pub async fn assert_no_row(&self, needle: &str) {
        let rows = self.rows().await;
        if let Some(row) = rows.iter().find(|r| r.contains(needle)) {
            panic!("a row still shows {needle:?} on {}: {row}", self.url().await);
        }
    }

    /// Waits until `script` (a JavaScript function body) returns `expected`; panics naming
    /// `what` and the last value it returned after a few seconds.
    pub async fn wait_for_js(&self, what: &str, script: &str, expected: serde_json::Value) {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let value = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or_else(|e| panic!("cannot run the script for {what}: {e}"));
            if value == expected {
                return;
            }
            if Instant::now() >= deadline {
                panic!("{what}: expected {expected}, got {value} on {}", self.url().await);
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the clipboard holds, read as a person would: pasted with Ctrl+V into a scratch
    /// text field added to the page for the purpose (and removed again).
    pub async fn clipboard(&self) -> String {
        self.client
            .execute(
                "var t = document.createElement('textarea'); t.id = 'clipboard-probe'; \
                 document.body.appendChild(t); t.focus();",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot add a field to paste into: {e}"));
        let field = self
            .client
            .find(Locator::Id("clipboard-probe"))
            .await
            .unwrap_or_else(|e| panic!("cannot find the field to paste into: {e}"));
        let paste = format!("{}v", char::from(fantoccini::key::Key::Control));
        field.send_keys(&paste).await.unwrap_or_else(|e| panic!("cannot paste: {e}"));
        let value = field.prop("value").await.unwrap_or_default().unwrap_or_default();
        let _ = self.client.execute("document.getElementById('clipboard-probe').remove();", vec![]).await;
        value
    }

    /// Saves a PNG as `<target>/screenshots/<test name>/<NN>-<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("cannot take screenshot {name:?}: {e}"));
        let n = {
            let mut shots = SHOTS.lock().unwrap_or_else(|p| p.into_inner());
            let counter = shots.get_or_insert_with(HashMap::new).entry(self.test_name.clone()).or_insert(0);
            *counter += 1;
            *counter
        };
        let dir = screenshot_dir(&self.test_name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Sizes the window so that the page's viewport (`window.innerWidth` × `innerHeight`) is
    /// exactly `width` × `height` CSS pixels, as on a phone of that size.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let (mut w, mut h) = (i64::from(width), i64::from(height));
        let mut inner = (0, 0);
        for _ in 0..6 {
            let (ww, wh) = (u32::try_from(w.max(1)).unwrap_or(width), u32::try_from(h.max(1)).unwrap_or(height));
            self.client.set_window_size(ww, wh).await.unwrap_or_else(|e| panic!("cannot resize the window: {e}"));
            // The page may see its new size a little later (a busy machine): wait until it
            // reads the same twice.
            let mut previous = (-1, -1);
            for _ in 0..40 {
                let value = self
                    .client
                    .execute("return [window.innerWidth, window.innerHeight];", vec![])
                    .await
                    .unwrap_or_else(|e| panic!("cannot read the viewport size: {e}"));
                inner = (value[0].as_i64().unwrap_or(0), value[1].as_i64().unwrap_or(0));
                if inner == previous || inner == (i64::from(width), i64::from(height)) {
                    break;
                }
                previous = inner;
                sleep(Duration::from_millis(50)).await;
            }
            if inner == (i64::from(width), i64::from(height)) {
                return;
            }
            w += i64::from(width) - inner.0;
            h += i64::from(height) - inner.1;
        }
        panic!("cannot make the viewport {width}×{height}: it stays {}×{}", inner.0, inner.1);
    }

    /// Saves the whole page as `<target>/screenshots/<file_name>.png`: the window is made as
    /// tall as the page for the shot (at most 6,000 px), then given back its size.
    pub async fn screenshot_page(&self, file_name: &str) {
        let size = self
            .client
            .execute("return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight];", vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot read the page size: {e}"));
        let n = |i: usize| u32::try_from(size[i].as_u64().unwrap_or(0)).unwrap_or(0);
        let (width, height, page) = (n(0), n(1), n(2).min(6000));
        if page > height {
            self.set_viewport(width, page).await;
        }
        let png =
            self.client.screenshot().await.unwrap_or_else(|e| panic!("cannot take screenshot {file_name:?}: {e}"));
        if page > height {
            self.set_viewport(width, height).await;
        }
        let dir = screenshots_root();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{file_name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Picks a role card ("Admin", "Accountant", …) by its title.
    pub async fn choose_role(&self, title: &str) {
        let xpath = format!(
            "//label[contains(@class,'radio-card')][.//*[contains(@class,'radio-title') and normalize-space(.)={}]]",
            xpath_literal(title)
        );
        let element = self.find_visible(&xpath, &format!("role card {title:?}")).await;
        self.click(&element, title).await;
    }

    /// Opens the ⋯ menu labelled "Actions for NAME".
    pub async fn open_menu(&self, name: &str) {
        let label = format!("Actions for {name}");
        let xpath = format!("//summary[@aria-label={}]", xpath_literal(&label));
        let element = self.find_visible(&xpath, &label).await;
        self.click(&element, &label).await;
    }

    /// The page's current path and query.
    pub async fn path(&self) -> String {
        let url = self.url().await;
        match url.find("://").and_then(|s| url[s + 3..].find('/').map(|p| s + 3 + p)) {
            Some(i) => url[i..].to_string(),
            None => url,
        }
    }

    /// Ends the WebDriver session (which quits Chromium) and stops chromedriver.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        if let Err(e) = client.close().await {
            eprintln!("closing the browser session failed: {e}");
        }
        drop(driver);
    }

    async fn url(&self) -> String {
        self.client.current_url().await.map_or_else(|e| format!("<unknown: {e}>"), String::from)
    }

    async fn click(&self, element: &Element, what: &str) {
        if let Err(e) = element.click().await {
            panic!("cannot click {what:?} on {}: {e}", self.url().await);
        }
    }

    /// The form control for a label text.
    async fn control(&self, label: &str) -> Element {
        let l = format!("//label[normalize-space(.)={}]", xpath_literal(label));
        let xpath = format!("//*[@id=({l})/@for] | ({l})//*[self::input or self::textarea or self::select]");
        self.find_visible_or_any(&xpath, &format!("form control labelled {label:?}")).await
    }

    /// First displayed match of `xpath`, retrying until [`FIND_TIMEOUT`].
    async fn find_visible(&self, xpath: &str, what: &str) -> Element {
        self.find(xpath, what, true).await
    }

    /// Like `find_visible`, but falls back to a hidden match (custom-styled checkboxes).
    async fn find_visible_or_any(&self, xpath: &str, what: &str) -> Element {
        self.find(xpath, what, false).await
    }

    async fn find(&self, xpath: &str, what: &str, visible_only: bool) -> Element {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            let found = self.client.find_all(Locator::XPath(xpath)).await.unwrap_or_default();
            let mut first = None;
            for element in found {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
                first.get_or_insert(element);
            }
            if let (false, Some(element)) = (visible_only, first) {
                return element;
            }
            if Instant::now() >= deadline {
                panic!("no visible {what} on {}", self.url().await);
            }
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// /usr/bin/chromedriver, else the first `chromedriver` on PATH.
fn find_chromedriver() -> Option<PathBuf> {
    let default = PathBuf::from("/usr/bin/chromedriver");
    if default.is_file() {
        return Some(default);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromedriver")).find(|p| p.is_file())
}

/// A port that was free a moment ago (the OS picks it; chromedriver binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free port for chromedriver")
}

async fn wait_until_ready(webdriver: &str) {
    let status = format!("{webdriver}/status");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + DRIVER_START_TIMEOUT;
    loop {
        if let Ok(response) = http.get(&status).send().await {
            let body = response.text().await.unwrap_or_default();
            let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if body["value"]["ready"] == true {
                return;
            }
        }
        if Instant::now() >= deadline {
            panic!("chromedriver did not answer {status} within {DRIVER_START_TIMEOUT:?}");
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn screenshot_dir(test_name: &str) -> PathBuf {
    screenshots_root().join(test_name)
}

fn screenshots_root() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("target"),
    };
    target.join("screenshots")
}

/// `s` as an XPath 1.0 string literal (XPath has no escapes: split on `'` with concat()).
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
