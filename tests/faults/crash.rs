//! `kill -9` in the middle of a stream of invites and permission changes, then a restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::{self, say, FirmSetup};

/// The permission changes the test cycles through, for one client user: (role, which of the
/// three entities). Any two in a row differ in role and in entities.
const TARGETS: [(&str, &[usize]); 4] =
    [("accountant", &[0, 1]), ("member", &[2]), ("accountant", &[1, 2]), ("member", &[0])];

const ROUNDS: usize = 3;
/// Emails the outbox sends at once here (OUTBOX_CONCURRENCY): at most this many are in
/// flight when a kill comes.
const IN_FLIGHT: usize = 4;

/// Every change whose answer reached the client is in the database after a crash, none is
/// half-done, and every queued email is sent exactly once after the restart, including
/// those the dead process had claimed (sent when their lease runs out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_acknowledged_change_and_no_email() {
    let _one = common::serial().await;
    let stack = common::stack().await;
    let mut env = common::BUSY_FIRM.to_vec();
    env.push(("OUTBOX_LEASE_SECONDS", "5"));
    env.push(("OUTBOX_CONCURRENCY", "4"));
    let mut instance = stack.start(&env).await;
    let port = instance.port;
    let base = instance.base.clone();
    let app = stack.app(&instance);
    let f = Arc::new(common::firm(&app).await);
    // A client user whose permissions the stream changes.
    let link = {
        let a = common::invite(&f, &base, "cleo@client.test").await;
        assert!(a.is(StatusCode::SEE_OTHER));
        app.invite_link("cleo@client.test", 1).await
    };
    app.accept_as_new_user(&link, "Cleo Client").await;
    let cleo = app.user_id("cleo@client.test").await;
    // A slow mail server: emails are in flight when the process dies.
    stack.smtp.set_delay(Duration::from_millis(150));

    let acked_invites = Arc::new(Mutex::new(Vec::<String>::new()));
    let unanswered_invites = Arc::new(Mutex::new(Vec::<String>::new()));
    // What Cleo's access may be now: a target of TARGETS, or None for the invite's own.
    let mut possible: Vec<Option<usize>> = vec![None];
    let mut last_acked_target: Option<usize> = None;
    let mut next_target = 0usize;
    let mut claimed_at_kill = 0;
    let mut refused = 0usize;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut streams = Vec::new();
        for task in 0..2 {
            let (f, stop, base) = (f.clone(), stop.clone(), base.clone());
            let (acked, unanswered) = (acked_invites.clone(), unanswered_invites.clone());
            streams.push(tokio::spawn(async move {
                let mut other = 0usize;
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let email = format!("crash-{round}-{task}-{i}@client.test");
                    i += 1;
                    let a = common::invite(&f, &base, &email).await;
                    match a.status {
                        Some(StatusCode::SEE_OTHER) => {
                            acked.lock().unwrap().push(email);
                            // About 40 invites a second in all: faster than the slow mail
                            // server sends, so emails are queued and claimed at each kill.
                            tokio::time::sleep(Duration::from_millis(40)).await;
                        }
                        None => {
                            unanswered.lock().unwrap().push(email);
                            break;
                        }
                        Some(s) => {
                            other += 1;
                            assert!(s != StatusCode::INTERNAL_SERVER_ERROR, "invite {email}: 500");
                        }
                    }
                }
                other
            }));
        }
        let configure = {
            let (f, stop, base) = (f.clone(), stop.clone(), base.clone());
            let first = next_target;
            tokio::spawn(async move { configure_stream(&f, &base, cleo, first, &stop).await })
        };
        // Let the streams run, then kill the process in the middle of them.
        tokio::time::sleep(Duration::from_millis(1200 + 300 * round as u64)).await;
        instance.kill9();
        let killed_at = Instant::now();
        claimed_at_kill += common::outbox(&stack.db, &base).await.iter().filter(|r| r.claimed).count();
        stop.store(true, Ordering::SeqCst);
        for s in streams {
            refused += s.await.unwrap();
        }
        let (acked, sent) = configure.await.unwrap();
        if acked.is_some() {
            last_acked_target = acked;
            possible = vec![acked];
        }
        if let Some(k) = sent {
            if sent != acked {
                possible.push(sent);
            }
            next_target = k + 1;
        }
        // What the database holds now, with the process dead, is what survived.
        check_configure(&stack.db, &f, cleo, &possible).await;
        instance = stack.start_on(port, &env).await;
        say(&format!(
            "fault: kill -9 round {}: restarted and ready {:.1}s after the kill",
            round + 1,
            killed_at.elapsed().as_secs_f64()
        ));
    }
    stack.smtp.set_delay(Duration::ZERO);

    // Every acknowledged invite is there, whole; no invite anywhere is half-done.
    let acked = acked_invites.lock().unwrap().clone();
    let unanswered = unanswered_invites.lock().unwrap().clone();
    let in_db = common::invites(&stack.db).await;
    for email in &acked {
        let whole = in_db.get(email).unwrap_or_else(|| panic!("acknowledged invite to {email} is lost"));
        assert!(whole.is_whole(), "acknowledged invite to {email} is half-done: {whole:?}");
    }
    for (email, whole) in &in_db {
        assert!(whole.is_whole(), "invite to {email} is half-done: {whole:?}");
    }
    let events = common::invited_events(&stack.db).await;
    for email in events.keys() {
        assert!(in_db.contains_key(email), "an audit event of an invite to {email} that does not exist");
    }
    let unanswered_kept = unanswered.iter().filter(|e| in_db.contains_key(*e)).count();

    // Every queued email is sent, exactly once by Message-ID; a copy can only come from
    // an email the process was sending when it died (IN_FLIGHT at a time).
    let rows = common::outbox_drained(&stack.db, &base, Duration::from_secs(120)).await;
    let delivery = common::compare(&rows, &stack.smtp);
    assert!(rows.iter().all(|r| r.state == "sent" || r.state == "dropped"), "{rows:?}");
    assert!(delivery.lost.is_empty(), "emails lost: {delivery:?}");
    assert!(delivery.unknown.is_empty(), "emails the outbox does not know: {delivery:?}");
    assert!(
        delivery.extra_copies() <= ROUNDS * IN_FLIGHT,
        "at most the emails in flight at each kill ({IN_FLIGHT}) may go twice (same Message-ID): {delivery:?}"
    );
    assert!(claimed_at_kill > 0, "the kills happened while emails were claimed (the lease case was exercised)");
    let invite_emails = rows.iter().filter(|r| r.invite_id.is_some()).count();
    assert_eq!(invite_emails, in_db.len(), "one email per invite");
    drop(instance);

    say(&format!(
        "fault: kill -9 x{ROUNDS} during invites and permission changes: {} invites acknowledged, all present and whole; \
         {} unanswered ({} of them committed, whole), {} refused; permission change {:?} acknowledged last, present; \
         {} emails claimed by the dead process and sent after their lease; {}",
        acked.len(),
        unanswered.len(),
        unanswered_kept,
        refused,
        last_acked_target,
        claimed_at_kill,
        delivery.figures()
    ));
}

/// Changes Cleo's permissions through TARGETS from `first` on until `stop`; returns the
/// last target acknowledged and the last one sent.
async fn configure_stream(
    f: &FirmSetup,
    base: &str,
    cleo: i64,
    first: usize,
    stop: &AtomicBool,
) -> (Option<usize>, Option<usize>) {
    let (mut acked, mut sent) = (None, None);
    let mut k = first;
    while !stop.load(Ordering::SeqCst) {
        let (role, which) = TARGETS[k % TARGETS.len()];
        let ids: Vec<String> = which.iter().map(|&i| f.entities[i].to_string()).collect();
        let mut fields = vec![("role", role)];
        fields.extend(ids.iter().map(|i| ("entity", i.as_str())));
        sent = Some(k);
        let a = common::post(&f.ada, base, &format!("/w/{}/settings/members/{cleo}/permissions", f.ws), &fields).await;
        match a.status {
            Some(StatusCode::SEE_OTHER) => {
                acked = Some(k);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => break,
            Some(s) => panic!("configure {k}: {s}: {}", crate::support::text_of(&a.body)),
        }
        k += 1;
    }
    (acked, sent)
}

/// Cleo's access in the database is one whole change: the last acknowledged, or one sent
/// after it whose answer never came; never a mix of two.
async fn check_configure(db: &portico::db::Db, f: &FirmSetup, cleo: i64, possible: &[Option<usize>]) {
    use portico::db::schema::{workspace_entity_grants as g, workspace_memberships as m};
    let ws = f.ws;
    let (role, entities) = db
        .read(move |c| {
            let (id, role) = m::table
                .filter(m::workspace_id.eq(ws))
                .filter(m::user_id.eq(cleo))
                .select((m::id, m::role))
                .first::<(i64, String)>(c)?;
            let entities = g::table.filter(g::membership_id.eq(id)).select(g::entity_id).load::<i64>(c)?;
            Ok((role, entities.into_iter().collect::<HashSet<i64>>()))
        })
        .await
        .expect("read Cleo's access");
    let expect = |k: &Option<usize>| match k {
        Some(k) => {
            let (role, which) = TARGETS[k % TARGETS.len()];
            (role.to_string(), which.iter().map(|&i| f.entities[i]).collect::<HashSet<i64>>())
        }
        None => ("member".to_string(), HashSet::from([f.entities[0]])),
    };
    let allowed: Vec<_> = possible.iter().map(expect).collect();
    assert!(
        allowed.contains(&(role.clone(), entities.clone())),
        "Cleo's access after the crash is {role} {entities:?}: not the change acknowledged last nor one sent \
         after it ({possible:?}): {allowed:?}"
    );
}
