//! axe-core (the npm package, pinned) run inside a page of a browser test.
//!
//! `.ci/run` installs it with `npm install --no-save --prefix target/axe axe-core@VERSION`;
//! a test finds `target/axe/node_modules/axe-core/axe.min.js`, or the file named by env
//! `AXE_CORE_JS`. Without it a test says `SKIPPED … (npm install …)` and returns, except
//! under CI (env `CI` non-empty), where it fails.
//!
//! The pages' Content-Security-Policy forbids inline scripts, so axe is not added as a
//! `<script>` element: its source is run through WebDriver's "execute script", which the
//! page's CSP does not govern.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::browser::Browser;

/// The exact axe-core version the tests run (also pinned in `.ci/run`).
pub const AXE_VERSION: &str = "4.14.1";

/// The impacts that fail a test: "serious" and "critical" ("minor" and "moderate" do not).
const FAILING: [&str; 2] = ["serious", "critical"];

/// axe-core's source, loaded once per test.
pub struct Axe {
    source: String,
}

fn install_hint() -> String {
    format!("npm install --no-save --prefix target/axe axe-core@{AXE_VERSION}")
}

fn axe_path() -> PathBuf {
    match std::env::var_os("AXE_CORE_JS").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js"),
    }
}

impl Axe {
    /// axe-core's source, or `None` after saying `SKIPPED …` when it is not installed (a
    /// failure under CI). Call it first thing in the test, like `installed_or_skip`.
    pub fn installed_or_skip(test_name: &str) -> Option<Axe> {
        let path = axe_path();
        match std::fs::read_to_string(&path) {
            Ok(source) => Some(Axe { source }),
            Err(e) => {
                let msg = format!(
                    "SKIPPED browser test {test_name}: axe-core not found at {} ({e}) ({})",
                    path.display(),
                    install_hint()
                );
                if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                    panic!("{msg}");
                }
                println!("{msg}");
                let _ = std::io::stderr().lock().write_all(format!("{msg}\n").as_bytes());
                None
            }
        }
    }

    /// Runs axe on the page `b` shows and panics, listing them readably, on violations of
    /// impact "serious" or "critical". `what` names the page in the message.
    pub async fn check(&self, b: &Browser, what: &str) {
        let failing = self.violations(b, what).await;
        if !failing.is_empty() {
            panic!(
                "axe-core {AXE_VERSION} found {} serious or critical violation(s) on {what}:\n{}",
                failing.len(),
                report(&failing)
            );
        }
    }

    /// The violations of impact "serious" or "critical" axe finds on the page `b` shows
    /// (each: id, impact, help, helpUrl, nodes); the others are only printed.
    pub async fn violations(&self, b: &Browser, what: &str) -> Vec<Value> {
        let loaded = b
            .client
            .execute("return typeof window.axe === 'object' ? window.axe.version : null;", vec![])
            .await
            .unwrap_or_else(|e| panic!("axe on {what}: cannot run a script: {e}"));
        if loaded.is_null() {
            b.client
                .execute(&self.source, vec![])
                .await
                .unwrap_or_else(|e| panic!("axe on {what}: cannot inject axe-core: {e}"));
        }
        let result = b
            .client
            .execute_async(
                "var done = arguments[arguments.length - 1];\
                 window.axe.run(document, { resultTypes: ['violations'] }).then(\
                   function (r) { done({ version: window.axe.version, violations: r.violations.map(function (v) {\
                     return { id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,\
                       nodes: v.nodes.map(function (n) { return { target: n.target.join(' '),\
                         html: n.html, summary: n.failureSummary || '' }; }) }; }) }); },\
                   function (e) { done({ error: String(e) }); });",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe on {what}: cannot run axe: {e}"));
        if let Some(error) = result.get("error") {
            panic!("axe on {what} failed: {error}");
        }
        let version = result["version"].as_str().unwrap_or_default();
        assert_eq!(
            version,
            AXE_VERSION,
            "axe-core {version} is installed, the tests pin {AXE_VERSION}: {}",
            install_hint()
        );
        let all: Vec<String> = result["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{} ({})", v["id"].as_str().unwrap_or_default(), v["impact"].as_str().unwrap_or_default()))
            .collect();
        eprintln!(
            "axe {version} on {what}: {}",
            if all.is_empty() { "no violations".to_string() } else { all.join(", ") }
        );
        result["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| FAILING.contains(&v["impact"].as_str().unwrap_or_default()))
            .cloned()
            .collect()
    }
}

/// One paragraph per violation: rule, impact, what it asks, where, and why each node fails.
pub fn report(violations: &[Value]) -> String {
    let mut out = String::new();
    for v in violations {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        out.push_str(&format!("- [{}] {}: {} ({})\n", s("impact"), s("id"), s("help"), s("helpUrl")));
        for n in v["nodes"].as_array().into_iter().flatten() {
            let t = |k: &str| n[k].as_str().unwrap_or_default().replace('\n', "\n      ");
            out.push_str(&format!("    at {}\n      {}\n      {}\n", t("target"), t("html"), t("summary")));
        }
    }
    out
}
