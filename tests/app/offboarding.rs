//! Clean offboarding: removing someone from a workspace or from the firm's team ends all of
//! their access in one step, cancels the invites that would let them back in, says before
//! what will end, and leaves the invites a firm's staff sent valid.

use reqwest::StatusCode;

use crate::support::{firm_with_a_client, invite_id_on, location, row, text_of, PASSWORD};

#[tokio::test]
async fn removing_a_clients_person_cancels_the_invites_they_sent_there() {
    let f = firm_with_a_client().await;
    let (bob, bob_id) = f.client_user("bob@client.test", "Bob Booker", "accountant", &[f.llc]).await;
    let r = bob.invite(f.ws, "eve@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Bob invites Eve");
    let eve_link = f.app.invite_link("eve@client.test", 1).await;
    let eve_invite = invite_id_on(&f.ada.members_page(f.ws).await, "eve@client.test");

    // The confirmation says what goes with him.
    let (_, page) = f.ada.page(&format!("/w/{}/settings/members/{bob_id}/remove", f.ws)).await;
    let says = text_of(&page);
    assert!(says.contains("The 1 pending invite they sent here is cancelled with it: eve@client.test."), "{says}");

    let r = f.ada.remove_member(f.ws, bob_id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.app.invite_state(eve_invite).await, "cancelled", "Bob's invite went with him");
    assert_eq!(f.app.membership_rows(f.ws, bob_id).await, 0);
    // Removed from his only workspace, his sessions ended too: the sign-in page, then nothing.
    assert_ne!(bob.page(&format!("/w/{}/entities", f.ws)).await.0, StatusCode::OK);
    // Eve's link leads nowhere now.
    let eve = f.app.visitor();
    let r = eve.invite_post(&eve_link, "register", &[("name", "Eve"), ("password", PASSWORD)]).await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER, "the cancelled invite cannot be accepted");
    let (_, activity) = f.ada.page(&format!("/w/{}/settings/activity", f.ws)).await;
    assert!(
        text_of(&activity).contains("cancelled the invite to eve@client.test (the person who sent it was removed)"),
        "{}",
        text_of(&activity)
    );
}

#[tokio::test]
async fn removing_a_team_member_lists_what_ends_and_ends_it_all_in_one_step() {
    let f = firm_with_a_client().await;
    let (ada, org, ws) = (&f.ada, f.org, f.ws);
    let beta = ada.add_client(org, "Beta Co").await;
    let beta_entity = ada.add_entity(beta, "Beta LLC").await;
    // Carol is invited to the team (a Member, with Acme Bakery), and, before she accepts,
    // into Beta Co as a client's person: that second invite is still pending when she joins.
    let client = ws.to_string();
    let r = ada
        .post(
            &format!("/orgs/{org}/team/invite"),
            &[("emails", "carol@firm.test"), ("role", "member"), ("client", &client)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let team_link = f.app.invite_link("carol@firm.test", 1).await;
    let r = ada.invite(beta, "carol@firm.test", "member", &[beta_entity]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let beta_invite = invite_id_on(&ada.members_page(beta).await, "carol@firm.test");
    let carol = f.app.accept_as_new_user(&team_link, "Carol Clerk").await;
    let carol_id = f.app.user_id("carol@firm.test").await;
    // A workspace Admin gives her the Admin role in Acme Bakery; she invites Frank there.
    let r = ada.configure_member(ws, carol_id, "admin", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = carol.invite(ws, "frank@client.test", "member", &[f.llc]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", text_of(&r.text().await.unwrap_or_default()));
    let frank_link = f.app.invite_link("frank@client.test", 1).await;

    let (_, page) = ada.page(&format!("/orgs/{org}/team/{carol_id}/remove")).await;
    let says = text_of(&page);
    for line in [
        "their place on the team, as Member",
        "access to 1 client: Acme Bakery",
        "their role in Acme Bakery (Admin)",
        "the pending invite to them into Beta Co, which is cancelled",
        "The 1 pending invite they sent stays valid",
    ] {
        assert!(says.contains(line), "the page says {line:?}: {says}");
    }

    let r = ada.post(&format!("/orgs/{org}/team/{carol_id}/remove"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/orgs/{org}/team"));
    assert_eq!(f.app.org_role(org, carol_id).await, None, "off the team");
    assert_eq!(f.app.membership_rows(ws, carol_id).await, 0, "her role in Acme Bakery went too");
    assert_eq!(f.app.invite_state(beta_invite).await, "cancelled", "no way back in through Beta Co");
    assert_ne!(carol.page(&format!("/w/{ws}/entities")).await.0, StatusCode::OK);
    let back = f.app.visitor();
    back.log_in("carol@firm.test", PASSWORD).await;
    assert_eq!(back.page(&format!("/w/{ws}/entities")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(back.page(&format!("/w/{beta}/entities")).await.0, StatusCode::NOT_FOUND);

    // The invite she sent stays, and still says who sent it; Frank can accept it.
    let members = ada.members_page(ws).await;
    assert!(row(&members, "frank@client.test").contains("by Carol Clerk"), "{}", row(&members, "frank@client.test"));
    let frank = f.app.accept_as_new_user(&frank_link, "Frank Fisher").await;
    assert_eq!(frank.page(&format!("/w/{ws}/entities")).await.0, StatusCode::OK);
}
