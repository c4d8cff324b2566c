//! Invite reminders: one email, a set time (INVITE_REMINDER_HOURS, 48 by default) before a
//! pending invite expires; none for an invite sent again meanwhile; none when turned off.

use diesel::prelude::*;
use reqwest::StatusCode;

use super::common::clock;
use crate::support::{invite_id_on, row, spawn_app_with, Options, TestApp, TestUser};

async fn app(reminder_hours: Option<u32>) -> TestApp {
    let adjust: fn(&mut portico::config::Settings) = match reminder_hours {
        None => |s| {
            s.session_idle_minutes = 60 * 24 * 400;
            s.session_lifetime_hours = 24 * 400;
        },
        Some(_) => |s| {
            s.session_idle_minutes = 60 * 24 * 400;
            s.session_lifetime_hours = 24 * 400;
            s.invite_reminder_hours = 0;
        },
    };
    spawn_app_with(Options { adjust, ..Options::default() }).await
}

struct Firm {
    app: TestApp,
    ada: TestUser,
    ws: i64,
    llc: i64,
}

async fn firm(reminder_hours: Option<u32>) -> Firm {
    let app = app(reminder_hours).await;
    let (ada, org) = app.sign_up("Ada Ames", "ada@firm.test", "Ames & Co").await;
    let ws = ada.add_client(org, "Acme Bakery").await;
    let llc = ada.add_entity(ws, "Acme LLC").await;
    Firm { app, ada, ws, llc }
}

impl Firm {
    async fn invite(&self, email: &str) -> (i64, String) {
        let r = self.ada.invite(self.ws, email, "member", &[self.llc]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let link = self.app.invite_link(email, 1).await;
        (invite_id_on(&self.ada.members_page(self.ws).await, email), link)
    }
}

const SUBJECT: &str = "Reminder: Ada Ames invited you to Acme Bakery on Portico";

/// Reminder rows in the outbox for `invite`.
async fn reminders(app: &TestApp, invite: i64) -> i64 {
    use portico::db::schema::outbox as o;
    app.db
        .read(move |c| {
            o::table.filter(o::kind.eq("invite_reminder")).filter(o::invite_id.eq(invite)).count().get_result::<i64>(c)
        })
        .await
        .expect("count reminders")
}

async fn reminder_sent_at(app: &TestApp, invite: i64) -> Option<chrono::NaiveDateTime> {
    use portico::db::schema::invites as i;
    app.db
        .read(move |c| i::table.find(invite).select(i::reminder_sent_at).first::<Option<chrono::NaiveDateTime>>(c))
        .await
        .expect("the invite")
}

#[tokio::test]
async fn a_pending_invite_gets_one_reminder_two_days_before_it_expires() {
    let clock = clock().await;
    let f = firm(None).await;
    let (bob, link) = f.invite("bob@client.test").await;
    // A control invite, sent a day later: its reminder comes a day later too.
    clock.advance_days(1);
    let (carl, _) = f.invite("carl@client.test").await;

    // Four days after Bob's invite (three to go): nothing yet.
    clock.advance_days(3);
    // Five days and an hour after (47 hours to go): his reminder, with the same link.
    clock.advance(chrono::Duration::hours(25));
    let mail = f.app.smtp.wait_for_subject("bob@client.test", SUBJECT).await;
    assert_eq!(mail.link(&format!("{}/invites/", f.app.base)), Some(link.clone()), "the invite's own link");
    assert!(mail.text.contains("A reminder: this invite is still waiting for you"), "{}", mail.text);
    assert!(reminder_sent_at(&f.app, bob).await.is_some());
    assert_eq!(reminder_sent_at(&f.app, carl).await, None, "Carl's invite has more than two days left");
    let members = f.ada.members_page(f.ws).await;
    assert!(row(&members, "bob@client.test").contains("reminder sent"), "{}", row(&members, "bob@client.test"));
    assert!(!row(&members, "carl@client.test").contains("reminder sent"));

    // A day later Carl's comes (the sweep ran since), and Bob's was not sent again.
    clock.advance_days(1);
    f.app.smtp.wait_for_subject("carl@client.test", SUBJECT).await;
    assert_eq!(reminders(&f.app, bob).await, 1, "one reminder");
    f.app.outbox_settled().await;
    let to_bob = f.app.mails_to("bob@client.test").into_iter().filter(|m| m.subject == SUBJECT).count();
    assert_eq!(to_bob, 1, "one reminder email");
    // The link still works until the invite expires.
    let bob_user = f.app.accept_as_new_user(&link, "Bob Booker").await;
    assert_eq!(bob_user.page(&format!("/w/{}/entities", f.ws)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_invite_sent_again_gets_a_reminder_for_its_new_expiry() {
    let clock = clock().await;
    let f = firm(None).await;
    let (bob, _) = f.invite("bob@client.test").await;
    clock.advance(chrono::Duration::hours(5 * 24 + 1));
    f.app.smtp.wait_for_subject("bob@client.test", SUBJECT).await;
    // Ada resends it: a new expiry (7 days from now), and the reminder is cleared.
    let r = f.ada.resend_invite(f.ws, bob).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(reminder_sent_at(&f.app, bob).await, None, "cleared by the resend");
    assert!(!row(&f.ada.members_page(f.ws).await, "bob@client.test").contains("reminder sent"));
    // 47 hours before the new expiry: its own reminder.
    clock.advance(chrono::Duration::hours(5 * 24 + 1));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while reminders(&f.app, bob).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the resent invite's own reminder never came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    f.app.outbox_settled().await;
    assert_eq!(reminders(&f.app, bob).await, 2, "one per expiry");
    let to_bob = f.app.mails_to("bob@client.test").into_iter().filter(|m| m.subject == SUBJECT).count();
    assert_eq!(to_bob, 2);
}

#[tokio::test]
async fn reminders_turned_off_send_nothing() {
    let clock = clock().await;
    let f = firm(Some(0)).await;
    let (bob, _) = f.invite("bob@client.test").await;
    // Carol's access ends in six days: the same sweep that would remind noticing it proves
    // that it ran after the clock moved.
    let llc = f.llc.to_string();
    let end_date = portico::clock::today() + chrono::Duration::days(12);
    let ends = end_date.format("%Y-%m-%d").to_string();
    let r = f
        .ada
        .post(
            &format!("/w/{}/settings/members/invite", f.ws),
            &[("email", "carol@client.test"), ("role", "member"), ("entity", &llc), ("ends", &ends)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let carol_link = f.app.invite_link("carol@client.test", 1).await;
    f.app.accept_as_new_user(&carol_link, "Carol Count").await;
    clock.advance(chrono::Duration::hours(5 * 24 + 12));
    let notice = format!("Carol Count's access to Acme Bakery ends on {}", end_date.format("%-d %b %Y"));
    f.app.smtp.wait_for_subject("ada@firm.test", &notice).await;
    assert_eq!(reminders(&f.app, bob).await, 0, "no reminder");
    assert_eq!(reminder_sent_at(&f.app, bob).await, None);
}
