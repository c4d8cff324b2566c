//! Large firms, written straight into the database (thousands of rows in seconds, where
//! the HTTP forms would take minutes): for the tests that lists stay constant in queries
//! from 50 to 5,000 rows, and for the benchmarks.

use chrono::Duration;
use diesel::prelude::*;
use portico::db::schema::{audit_events, invites, org_memberships, outbox, users, workspace_memberships, workspaces};

use super::{now, TestApp};

/// What `rows` of each kind adds to a firm `org` and its client `ws`, from `first` on (so
/// that a firm can grow from 50 to 5,000): clients `Client 00042`, staff
/// `staff00042@firm.test` (Members) with a team invite `newstaff00042@firm.test`, a client
/// invite `client00042@client.test` and an Activity event about it. Every tenth invite
/// has expired; every twenty-fifth one's email failed.
pub async fn grow(app: &TestApp, org: i64, ws: i64, inviter: i64, first: usize, rows: usize) {
    app.db
        .write(move |c| {
            let at = now();
            for i in first..first + rows {
                diesel::insert_into(workspaces::table)
                    .values((
                        workspaces::organization_id.eq(org),
                        workspaces::name.eq(format!("Client {i:05}")),
                        workspaces::created_at.eq(at),
                    ))
                    .execute(c)?;
                let user: i64 = diesel::insert_into(users::table)
                    .values((
                        users::email.eq(format!("staff{i:05}@firm.test")),
                        users::name.eq(format!("Staff {i:05}")),
                        users::password_hash.eq("not a hash: cannot sign in"),
                        users::created_at.eq(at),
                    ))
                    .returning(users::id)
                    .get_result(c)?;
                diesel::insert_into(org_memberships::table)
                    .values((
                        org_memberships::organization_id.eq(org),
                        org_memberships::user_id.eq(user),
                        org_memberships::role.eq("member"),
                        org_memberships::new_clients.eq(false),
                        org_memberships::created_at.eq(at),
                    ))
                    .execute(c)?;
                let expires = if i % 10 == 9 { at - Duration::days(1) } else { at + Duration::days(7) };
                for (workspace, email, role) in [
                    (None, format!("newstaff{i:05}@firm.test"), "member"),
                    (Some(ws), format!("client{i:05}@client.test"), "member"),
                ] {
                    let failed = i % 25 == 24;
                    let id: i64 = diesel::insert_into(invites::table)
                        .values((
                            invites::organization_id.eq(org),
                            invites::workspace_id.eq(workspace),
                            invites::email.eq(&email),
                            invites::role.eq(role),
                            invites::new_clients.eq(false),
                            invites::token_hash.eq(format!("seeded-{org}-{i}-{}", workspace.is_some())),
                            invites::token_nonce.eq(format!("nonce{i}")),
                            invites::invited_by.eq(inviter),
                            invites::state.eq("pending"),
                            invites::created_at.eq(at),
                            invites::expires_at.eq(expires),
                            invites::last_sent_at.eq(at),
                            invites::all_entities.eq(true),
                            // What the outbox keeps on the invite when its email fails.
                            invites::delivery_failing.eq(failed),
                        ))
                        .returning(invites::id)
                        .get_result(c)?;
                    diesel::insert_into(outbox::table)
                        .values((
                            outbox::kind.eq("invite"),
                            outbox::invite_id.eq(Some(id)),
                            outbox::to_email.eq(&email),
                            outbox::state.eq(if failed { "failed" } else { "sent" }),
                            outbox::attempts.eq(if failed { 8 } else { 1 }),
                            outbox::next_attempt_at.eq(at),
                            outbox::last_error.eq(failed.then_some("550 no such mailbox")),
                            outbox::created_at.eq(at),
                            outbox::sent_at.eq((!failed).then_some(at)),
                            outbox::first_failed_at.eq(failed.then_some(at)),
                        ))
                        .execute(c)?;
                }
                diesel::insert_into(audit_events::table)
                    .values((
                        audit_events::organization_id.eq(org),
                        audit_events::workspace_id.eq(Some(ws)),
                        audit_events::actor_id.eq(Some(inviter)),
                        audit_events::action.eq("invited"),
                        audit_events::target_email.eq(format!("client{i:05}@client.test")),
                        audit_events::detail.eq("Member"),
                        audit_events::created_at.eq(at),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .await
        .expect("seeding a large firm");
    // After a bulk load, the planner's statistics, and on PostgreSQL the visibility map
    // that lets a count read the index alone (autovacuum would see to both within a minute
    // or so; SQLite keeps no statistics unless asked).
    app.db
        .read(|c| {
            use diesel::connection::SimpleConnection;
            match c {
                portico::db::DbConnection::Pg(_) => c.batch_execute("VACUUM ANALYZE"),
                portico::db::DbConnection::Sqlite(_) => c.batch_execute("ANALYZE"),
            }
        })
        .await
        .expect("ANALYZE after seeding");
}

/// The id of the user with this address.
pub async fn user_id(app: &TestApp, email: &'static str) -> i64 {
    app.db
        .read(move |c| users::table.filter(users::email.eq(email)).select(users::id).first::<i64>(c))
        .await
        .expect("the user")
}

/// `n` people of the client `ws` (its own users, Members of every entity): `Person 00042`,
/// `person00042@client.test`.
#[allow(dead_code)]
pub async fn people(app: &TestApp, ws: i64, n: usize) {
    app.db
        .write(move |c| {
            let at = now();
            for i in 0..n {
                let user: i64 = diesel::insert_into(users::table)
                    .values((
                        users::email.eq(format!("person{i:05}@client.test")),
                        users::name.eq(format!("Person {i:05}")),
                        users::password_hash.eq("not a hash: cannot sign in"),
                        users::created_at.eq(at),
                    ))
                    .returning(users::id)
                    .get_result(c)?;
                diesel::insert_into(workspace_memberships::table)
                    .values((
                        workspace_memberships::workspace_id.eq(ws),
                        workspace_memberships::user_id.eq(user),
                        workspace_memberships::role.eq("member"),
                        workspace_memberships::created_at.eq(at),
                        workspace_memberships::all_entities.eq(true),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .await
        .expect("seeding a client's people");
}
