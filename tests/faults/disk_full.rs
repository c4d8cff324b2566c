//! The disk under the SQLite file fills up: a clear page and log line, nothing half-done,
//! nothing corrupt, and changes work again once there is room.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::{self, say};
use super::instance::{on_postgres, Stack};
use crate::support::text_of;

/// A small tmpfs of our own: the disk that fills up. Unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// None when this machine does not let the test mount (not root, or no mount rights).
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "portico-fault-disk"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left of the disk; returns the filler's path and size.
    fn fill(&self) -> (PathBuf, u64) {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        // The last bytes: one at a time until nothing more fits.
        while let Ok(1) = file.write(&[0u8]) {
            written += 1;
        }
        let _ = file.sync_all();
        (path, written)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_a_clear_page_and_loses_or_corrupts_nothing() {
    const TEST: &str = "a_full_disk_answers_a_clear_page_and_loses_or_corrupts_nothing";
    if on_postgres() {
        common::not_here(TEST, "the SQLite file's disk (on PostgreSQL the server owns its disk)");
        return;
    }
    let _one = common::serial().await;
    let Some(disk) = SmallDisk::mount(24) else {
        let why = "cannot mount a small tmpfs here (needs root)";
        assert!(!common::in_ci(), "{TEST}: {why}; CI runs as root and must run it");
        common::not_here(TEST, why);
        return;
    };
    let db_path = disk.path().join("portico.db");
    let stack = Stack::on(tempfile::tempdir().unwrap(), db_path.to_string_lossy().into_owned(), None).await;
    let instance = stack.start(&common::BUSY_FIRM).await;
    let app = stack.app(&instance);
    let f = common::firm(&app).await;
    for i in 0..3 {
        let a = common::invite(&f, &instance.base, &format!("before-{i}@client.test")).await;
        assert!(a.is(StatusCode::SEE_OTHER));
    }
    common::outbox_drained(&stack.db, &instance.base, Duration::from_secs(30)).await;
    let before = app.snapshot().await;

    // The write-ahead log starts empty, so the next change needs new room on the disk.
    stack.db.read(|c| c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")).await.expect("checkpoint");
    let (filler, filled) = disk.fill();

    let members = format!("/w/{}/settings/members", f.ws);
    let mut refused = 0;
    let mut pages = Vec::new();
    for i in 0..5 {
        let email = format!("full-{i}@client.test");
        let a = common::invite(&f, &instance.base, &email).await;
        assert_eq!(
            a.status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "invite {email} on a full disk: {}",
            text_of(&a.body)
        );
        assert!(a.body.contains("Portico cannot save changes just now"), "{}", text_of(&a.body));
        refused += 1;
        let page = common::get(&f.ada, &instance.base, &members).await;
        // Reading needs no room: the pages still open (their session changes, such as a
        // flash message shown, wait for room).
        assert!(page.is(StatusCode::OK), "Members on a full disk: {:?} {}", page.status, text_of(&page.body));
        pages.push(page.status.unwrap());
    }
    let log = instance.log();
    assert!(log.contains("the database cannot be written"), "the log says why: {}", common::tail(&log));
    assert_eq!(app.snapshot().await, before, "nothing was written while the disk was full");

    // Room again: changes work, with no restart, and the file is sound.
    std::fs::remove_file(&filler).unwrap();
    let mut after = None;
    for _ in 0..50 {
        let a = common::invite(&f, &instance.base, "after@client.test").await;
        if a.is(StatusCode::SEE_OTHER) {
            after = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(after.is_some(), "an invite works again once there is room");
    let whole = common::invites(&stack.db).await;
    assert!(whole.values().all(|w| w.is_whole()), "{whole:?}");
    assert_eq!(whole.len(), 4, "the three before and the one after");
    let check: String = stack
        .db
        .read(|c| {
            diesel::sql_query("PRAGMA integrity_check").get_result::<IntegrityCheck>(c).map(|r| r.integrity_check)
        })
        .await
        .unwrap();
    assert_eq!(check, "ok");
    say(&format!(
        "fault: SQLite disk full (tmpfs, {filled} bytes of filler): {refused} invites answered 503 \"Portico cannot \
         save changes just now\", the Members page still opened ({pages:?}), the log says \"the database cannot be written\", \
         nothing written; after freeing room an invite went through with no restart; integrity_check: {check}"
    ));
    drop(instance);
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}
