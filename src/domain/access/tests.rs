//! roles.md, cell by cell: its two tables and the section on firm staff inside a client's
//! workspace, for every kind of actor and target.

use super::*;
use OrgRole as O;
use WorkspaceRole as W;

const WS: WorkspaceId = WorkspaceId(7);
const OTHER_WS: WorkspaceId = WorkspaceId(8);
const LLC: EntityId = EntityId(1);
const HOLDINGS: EntityId = EntityId(2);
const TRUST: EntityId = EntityId(3);

fn client(role: WorkspaceRole, entities: &[EntityId]) -> Standing {
    standing(WS, &PersonFacts { staff: None, seat: Some(SeatFacts::new(role, entities.iter().copied())) })
        .expect("a client user opens their workspace")
}

fn lead(role: OrgRole) -> Standing {
    standing(WS, &PersonFacts { staff: Some(StaffFacts::new(role, [], false)), seat: None })
        .expect("a firm Admin or Manager opens every client")
}

/// A firm Member with access to WS, with their own workspace role there (or the default).
fn firm_member(seat: Option<(WorkspaceRole, &[EntityId])>) -> Standing {
    standing(
        WS,
        &PersonFacts {
            staff: Some(StaffFacts::new(O::Member, [WS], false)),
            seat: seat.map(|(r, e)| SeatFacts::new(r, e.iter().copied())),
        },
    )
    .expect("a firm Member opens a client chosen for them")
}

fn offer(role: WorkspaceRole, entities: &[EntityId]) -> SeatFacts {
    grant(role, Access::only(entities.iter().copied()))
}

/// The three workspace roles as client users, each Accountant and Member holding LLC only.
fn by_role() -> [(WorkspaceRole, Standing); 3] {
    [
        (W::Admin, client(W::Admin, &[])),
        (W::Accountant, client(W::Accountant, &[LLC])),
        (W::Member, client(W::Member, &[LLC])),
    ]
}

#[test]
fn workspace_table_role_only_rows() {
    use WorkspaceAction::*;
    // (action, Admin, Accountant, Member)
    let table = [
        (ViewMembers, true, true, false),
        (Invite, true, true, false),
        (AddEntity, true, true, false),
        (AddTransaction, true, true, false),
        (ViewActivity, true, false, false),
        (RequireTwoFactor, true, false, false),
    ];
    for (action, admin, accountant, member) in table {
        for (role, actor) in by_role() {
            let want = match role {
                W::Admin => admin,
                W::Accountant => accountant,
                W::Member => member,
            };
            assert_eq!(may(&actor, action), want, "{role:?} {action:?}");
        }
    }
}

#[test]
fn workspace_table_invite_an_admin_accountant_or_member() {
    for (role, actor) in by_role() {
        let admin = may_invite(&actor, &offer(W::Admin, &[])).is_ok();
        let accountant = may_invite(&actor, &offer(W::Accountant, &[LLC])).is_ok();
        let member = may_invite(&actor, &offer(W::Member, &[LLC])).is_ok();
        let want = match role {
            W::Admin => (true, true, true),
            W::Accountant => (false, true, true),
            W::Member => (false, false, false),
        };
        assert_eq!((admin, accountant, member), want, "{role:?}");
    }
    // "Make someone Admin" is the same cell on the Configure form.
    let target = client(W::Member, &[LLC]);
    assert!(may_configure(&client(W::Admin, &[]), &target, &offer(W::Admin, &[])).is_ok());
    assert_eq!(may_configure(&client(W::Accountant, &[LLC]), &target, &offer(W::Admin, &[])), Err(Refusal::AdminOnly));
}

#[test]
fn workspace_table_configure_only_entities_they_hold() {
    let accountant = client(W::Accountant, &[LLC]);
    for target_role in [W::Accountant, W::Member] {
        let target = client(target_role, &[LLC]);
        assert!(may_configure(&client(W::Admin, &[]), &target, &offer(W::Member, &[LLC, HOLDINGS])).is_ok());
        assert!(may_configure(&accountant, &target, &offer(W::Member, &[LLC])).is_ok());
        assert_eq!(
            may_configure(&accountant, &target, &offer(W::Member, &[LLC, HOLDINGS])),
            Err(Refusal::AboveOwnEntities),
            "an Accountant gives only entities they hold"
        );
        assert_eq!(may_configure(&client(W::Member, &[LLC]), &target, &offer(W::Member, &[LLC])), Err(Refusal::Role));
    }
    // Admins are configured by Admins only.
    let admin_target = client(W::Admin, &[]);
    assert!(may_configure(&client(W::Admin, &[]), &admin_target, &offer(W::Member, &[LLC])).is_ok());
    assert_eq!(may_configure(&accountant, &admin_target, &offer(W::Accountant, &[LLC])), Err(Refusal::AdminOnly));
}

#[test]
fn workspace_table_remove() {
    for (role, actor) in by_role() {
        let accountants_and_members =
            [W::Accountant, W::Member].into_iter().all(|r| may_remove(&actor, &client(r, &[LLC])).is_ok());
        let admins = may_remove(&actor, &client(W::Admin, &[])).is_ok();
        let want = match role {
            W::Admin => (true, true),
            W::Accountant => (true, false),
            W::Member => (false, false),
        };
        assert_eq!((accountants_and_members, admins), want, "{role:?}");
    }
}

#[test]
fn the_last_admin_is_kept() {
    // "remove Admins: yes (never the last one)", and the last Admin is never demoted.
    for after in [None, Some(W::Accountant), Some(W::Member)] {
        assert_eq!(keeps_a_workspace_admin(1, W::Admin, after), Err(Refusal::LastWorkspaceAdmin));
        assert!(keeps_a_workspace_admin(2, W::Admin, after).is_ok());
    }
    assert!(keeps_a_workspace_admin(1, W::Admin, Some(W::Admin)).is_ok());
    assert!(keeps_a_workspace_admin(1, W::Member, None).is_ok(), "removing a Member leaves the Admin");
    for after in [None, Some(O::Manager), Some(O::Member)] {
        assert_eq!(keeps_a_firm_admin(1, O::Admin, after), Err(Refusal::LastFirmAdmin));
        assert!(keeps_a_firm_admin(2, O::Admin, after).is_ok());
    }
    assert!(keeps_a_firm_admin(1, O::Manager, None).is_ok());
}

#[test]
fn workspace_table_resend_cancel_copy_for_invites_they_may_send() {
    for (role, actor) in by_role() {
        let admin_invite = may_manage_invite(&actor, &offer(W::Admin, &[])).is_ok();
        let own_entities = may_manage_invite(&actor, &offer(W::Accountant, &[LLC])).is_ok();
        let beyond = may_manage_invite(&actor, &offer(W::Member, &[LLC, HOLDINGS]));
        match role {
            W::Admin => assert!(admin_invite && own_entities && beyond.is_ok()),
            W::Accountant => {
                assert!(!admin_invite && own_entities);
                assert_eq!(beyond, Err(Refusal::InviteBeyondReach));
            }
            W::Member => assert!(!admin_invite && !own_entities && beyond.is_err()),
        }
    }
}

#[test]
fn workspace_table_read_books() {
    let (_, admin) = &by_role()[0];
    assert!([LLC, HOLDINGS, TRUST].iter().all(|e| may_read_entity(admin, *e)));
    for actor in [client(W::Accountant, &[LLC]), client(W::Member, &[LLC])] {
        assert!(may_read_entity(&actor, LLC));
        assert!(!may_read_entity(&actor, HOLDINGS), "only assigned entities");
    }
}

#[test]
fn org_table() {
    use OrgAction::*;
    // (action, Admin, Manager, Member)
    let table = [
        (ManageBilling, true, false, false),
        (InviteStaff, true, true, false),
        (AddClient, true, true, false),
        (AddEntity, true, true, true),
        (ViewTeam, true, true, false),
        (RequireTwoFactor, true, false, false),
        (ViewEmailDelivery, true, false, false),
        (ViewAccessReport, true, true, false),
    ];
    for (action, admin, manager, member) in table {
        assert_eq!(org_may(O::Admin, action), admin, "Admin {action:?}");
        assert_eq!(org_may(O::Manager, action), manager, "Manager {action:?}");
        assert_eq!(org_may(O::Member, action), member, "Member {action:?}");
    }
    let staff = |r| StaffFacts::new(r, [], false);
    // Add Admins (invite or promote): Admin only. Add Managers / Members: Admin and Manager.
    for (actor, admins, others) in [(O::Admin, true, true), (O::Manager, false, true), (O::Member, false, false)] {
        assert_eq!(may_invite_staff(&staff(actor), &staff(O::Admin)).is_ok(), admins, "{actor:?}");
        assert_eq!(may_invite_staff(&staff(actor), &staff(O::Manager)).is_ok(), others, "{actor:?}");
        let member = StaffFacts::new(O::Member, [WS], true);
        assert_eq!(may_invite_staff(&staff(actor), &member).is_ok(), others, "{actor:?}");
        assert_eq!(
            may_configure_staff(&staff(actor), O::Member, &staff(O::Admin)).is_ok(),
            admins,
            "{actor:?} promotes to Admin"
        );
    }
    // Remove team members: Admin all, Manager not Admins, Member none.
    for (actor, admin, manager, member) in
        [(O::Admin, true, true, true), (O::Manager, false, true, true), (O::Member, false, false, false)]
    {
        assert_eq!(may_manage_staff(&staff(actor), O::Admin).is_ok(), admin, "{actor:?}");
        assert_eq!(may_manage_staff(&staff(actor), O::Manager).is_ok(), manager, "{actor:?}");
        assert_eq!(may_manage_staff(&staff(actor), O::Member).is_ok(), member, "{actor:?}");
    }
}

#[test]
fn nobody_grants_a_role_above_their_own() {
    let actors = [
        client(W::Admin, &[]),
        client(W::Accountant, &[LLC]),
        client(W::Member, &[LLC]),
        lead(O::Admin),
        lead(O::Manager),
        firm_member(None),
        firm_member(Some((W::Member, &[LLC]))),
        firm_member(Some((W::Admin, &[]))),
    ];
    for actor in &actors {
        for role in W::ALL {
            if may_invite(actor, &offer(role, &[LLC])).is_ok() {
                assert!(role <= actor.role, "{actor:?} may give {role:?}");
            }
        }
        for entities in [&[LLC][..], &[HOLDINGS], &[LLC, HOLDINGS, TRUST]] {
            let o = offer(W::Member, entities);
            if may_invite(actor, &o).is_ok() {
                assert!(actor.entities.covers(&o.entities), "{actor:?} may give {entities:?}");
            }
        }
    }
    for actor in O::ALL {
        for role in O::ALL {
            if may_give_org_role(actor, role) {
                assert!(role <= actor, "{actor:?} may give {role:?}");
            }
        }
    }
}

// ---- firm staff inside a client's workspace --------------------------------------------

#[test]
fn firm_admins_and_managers_are_admins_of_every_client_whatever_row_they_have() {
    for role in [O::Admin, O::Manager] {
        for seat in [None, Some(SeatFacts::new(W::Member, [LLC])), Some(SeatFacts::new(W::Accountant, []))] {
            for ws in [WS, OTHER_WS] {
                let s =
                    standing(ws, &PersonFacts { staff: Some(StaffFacts::new(role, [], false)), seat: seat.clone() })
                        .expect("opens every client");
                assert_eq!(s.role, W::Admin, "{role:?} {seat:?}");
                assert_eq!(s.entities, Access::All);
                assert_eq!(s.kind, Kind::FirmLead(role));
            }
        }
    }
}

#[test]
fn nobody_inside_a_client_can_lower_or_remove_a_firm_admin_or_manager() {
    let actors = [
        client(W::Admin, &[]),
        client(W::Accountant, &[LLC]),
        firm_member(None),
        firm_member(Some((W::Admin, &[]))),
        lead(O::Admin),
        lead(O::Manager),
    ];
    for target_role in [O::Admin, O::Manager] {
        let target = lead(target_role);
        for actor in &actors {
            assert_eq!(may_manage(actor, &target), Err(Refusal::FirmLead), "{actor:?}");
            assert_eq!(may_configure(actor, &target, &offer(W::Member, &[LLC])), Err(Refusal::FirmLead));
            assert_eq!(may_remove(actor, &target), Err(Refusal::FirmLead));
        }
    }
}

#[test]
fn a_firm_member_works_in_chosen_clients_with_a_role_of_their_own() {
    let member = |clients: &[WorkspaceId], seat: Option<SeatFacts>| PersonFacts {
        staff: Some(StaffFacts::new(O::Member, clients.iter().copied(), false)),
        seat,
    };
    // Not chosen, and no row of their own: they cannot open it.
    assert_eq!(standing(WS, &member(&[OTHER_WS], None)), None);
    // Chosen: the default role until a workspace Admin gives another, never Admin by default.
    let default = standing(WS, &member(&[WS], None)).unwrap();
    assert_eq!((default.role, default.kind), (FIRM_MEMBER_DEFAULT, Kind::FirmMember));
    assert_ne!(default.role, W::Admin);
    // Their own role there.
    let own = standing(WS, &member(&[WS], Some(SeatFacts::new(W::Member, [LLC])))).unwrap();
    assert_eq!(own.role, W::Member);
    assert_eq!(own.entities, Access::only([LLC]));
    // Firm staff reach a client only through their client access: a row of their own in a
    // client they were not given (say, from before they joined the team) opens nothing.
    assert_eq!(standing(WS, &member(&[], Some(SeatFacts::new(W::Accountant, [LLC])))), None);
    // Nobody at all.
    assert_eq!(standing(WS, &PersonFacts::default()), None);
}

#[test]
fn a_firm_members_role_is_changed_on_the_members_page_like_anyone_elses_but_not_removed() {
    let target = firm_member(None);
    let admin = client(W::Admin, &[]);
    assert!(may_configure(&admin, &target, &offer(W::Member, &[LLC])).is_ok());
    assert!(may_configure(&lead(O::Admin), &target, &offer(W::Admin, &[])).is_ok());
    assert_eq!(may_remove(&admin, &target), Err(Refusal::FirmMemberAccess));
    // An Accountant with all entities configures them (not to Admin).
    let accountant_all = firm_member(None);
    let member_target = firm_member(Some((W::Member, &[LLC])));
    assert!(may_configure(&accountant_all, &member_target, &offer(W::Accountant, &[HOLDINGS])).is_ok());
    assert_eq!(may_configure(&accountant_all, &member_target, &offer(W::Admin, &[])), Err(Refusal::AdminOnly));
    // A firm Member made workspace Admin is an Admin there, changeable by Admins only.
    let made_admin = firm_member(Some((W::Admin, &[])));
    assert_eq!(made_admin.role, W::Admin);
    assert_eq!(
        may_configure(&client(W::Accountant, &[LLC]), &made_admin, &offer(W::Member, &[LLC])),
        Err(Refusal::AdminOnly)
    );
    assert!(may_configure(&admin, &made_admin, &offer(W::Member, &[LLC])).is_ok());
}

#[test]
fn everyone_sees_only_what_they_could_grant() {
    let accountant = Access::only([LLC]);
    assert_eq!(
        visible_entities(&accountant, &Access::only([LLC, HOLDINGS, TRUST])),
        Visible::Some { named: vec![LLC], hidden: 2 }
    );
    assert_eq!(
        visible_entities(&Access::All, &Access::only([LLC, HOLDINGS])),
        Visible::Some { named: vec![LLC, HOLDINGS], hidden: 0 }
    );
    assert_eq!(visible_entities(&accountant, &Access::All), Visible::All);
    // Invites naming entities beyond their reach are not theirs to resend, copy or cancel.
    let actor = client(W::Accountant, &[LLC]);
    assert_eq!(may_manage_invite(&actor, &offer(W::Member, &[HOLDINGS])), Err(Refusal::InviteBeyondReach));
    assert!(may_manage_invite(&actor, &offer(W::Member, &[LLC])).is_ok());
}

#[test]
fn what_is_beyond_the_actors_reach_stays_as_it_was() {
    let accountant = Access::only([LLC]);
    let target = Access::only([LLC, HOLDINGS]);
    // Taking LLC away and giving nothing keeps HOLDINGS, which the Accountant cannot see.
    assert_eq!(merge_entities(&accountant, &target, &Access::none()), Access::only([HOLDINGS]));
    assert_eq!(merge_entities(&accountant, &target, &Access::only([LLC])), Access::only([LLC, HOLDINGS]));
    // An Admin sets exactly what they chose.
    assert_eq!(merge_entities(&Access::All, &target, &Access::only([TRUST])), Access::only([TRUST]));
    // A role change is refused while the target holds entities beyond the actor's reach.
    let actor = client(W::Accountant, &[LLC]);
    let t = client(W::Member, &[LLC, HOLDINGS]);
    assert_eq!(may_configure(&actor, &t, &offer(W::Accountant, &[LLC])), Err(Refusal::HiddenEntities));
    assert!(may_configure(&actor, &t, &offer(W::Member, &[])).is_ok());
}

#[test]
fn someone_holding_all_entities_is_managed_only_by_someone_who_does_too() {
    let all_accountant = client(W::Accountant, &[]);
    let all_accountant = Standing { entities: Access::All, ..all_accountant };
    let some_accountant = client(W::Accountant, &[LLC]);
    // A firm Member on their default (Accountant, all entities) and a client given all.
    for target in [firm_member(None), all_accountant.clone()] {
        assert_eq!(may_manage(&some_accountant, &target), Err(Refusal::HoldsAll));
        assert!(may_remove(&some_accountant, &target).is_err());
        assert!(may_manage(&all_accountant, &target).is_ok());
        assert!(may_manage(&client(W::Admin, &[]), &target).is_ok());
    }
    // "All entities, current and future" is offered only by those who hold all.
    assert!(may_give_all_entities(&all_accountant) && may_give_all_entities(&client(W::Admin, &[])));
    assert!(!may_give_all_entities(&some_accountant));
    assert_eq!(may_invite(&some_accountant, &grant(W::Member, Access::All)), Err(Refusal::AboveOwnEntities));
    assert!(may_invite(&all_accountant, &grant(W::Member, Access::All)).is_ok());
    assert_eq!(hidden_count(&Access::only([LLC]), &Access::All), 1);
}

#[test]
fn access_covers() {
    assert!(Access::<EntityId>::All.covers(&Access::only([LLC])));
    assert!(!Access::only([LLC]).covers(&Access::All));
    assert!(Access::only([LLC, HOLDINGS]).covers(&Access::only([LLC])));
    assert!(!Access::only([LLC]).covers(&Access::only([LLC, HOLDINGS])));
    assert!(Access::only([LLC]).covers(&Access::none()));
}

#[test]
fn who_may_require_two_factor() {
    use WorkspaceAction::RequireTwoFactor;
    // In a workspace: its effective Admins, whoever they are; nobody else.
    assert!(may(&client(W::Admin, &[]), RequireTwoFactor));
    assert!(may(&lead(O::Admin), RequireTwoFactor), "firm Admins are Admins of every client");
    assert!(may(&lead(O::Manager), RequireTwoFactor), "so are firm Managers");
    assert!(may(&firm_member(Some((W::Admin, &[]))), RequireTwoFactor), "a firm Member made workspace Admin");
    assert!(!may(&firm_member(None), RequireTwoFactor), "a firm Member is an Accountant by default");
    assert!(!may(&client(W::Accountant, &[LLC]), RequireTwoFactor));
    assert!(!may(&client(W::Member, &[LLC]), RequireTwoFactor));
    // For the firm: its Admins only.
    assert!(org_may(O::Admin, OrgAction::RequireTwoFactor));
    assert!(!org_may(O::Manager, OrgAction::RequireTwoFactor));
    assert!(!org_may(O::Member, OrgAction::RequireTwoFactor));
}

// ---- invites and permissions grant something ------------------------------------------

#[test]
fn a_seat_grants_something() {
    // (role, entities, grants something)
    let table: [(WorkspaceRole, Access<EntityId>, bool); 9] = [
        (W::Admin, Access::none(), true),
        (W::Admin, Access::only([LLC]), true),
        (W::Admin, Access::All, true),
        (W::Accountant, Access::none(), false),
        (W::Accountant, Access::only([LLC]), true),
        (W::Accountant, Access::All, true),
        (W::Member, Access::none(), false),
        (W::Member, Access::only([LLC, HOLDINGS]), true),
        (W::Member, Access::All, true),
    ];
    for (role, entities, want) in table {
        let got = grants_something(&grant(role, entities.clone()));
        assert_eq!(got.is_ok(), want, "{role:?} {entities:?}");
        if !want {
            assert_eq!(got, Err(Refusal::NoEntities));
        }
    }
    assert!(Refusal::NoEntities.is_form_message() && Refusal::NoEntities.is_about_the_list());
}

#[test]
fn what_counts_is_the_seat_they_end_with_hidden_entities_included() {
    // An Accountant holding LLC unticks it on a Member who also holds HOLDINGS (which the
    // Accountant cannot see): HOLDINGS stays, so the Member still has something.
    let actor = Access::only([LLC]);
    let kept = merge_entities(&actor, &Access::only([LLC, HOLDINGS]), &Access::none());
    assert!(grants_something(&SeatFacts::with(W::Member, kept)).is_ok());
    // The same for a Member holding only LLC leaves nothing.
    let left = merge_entities(&actor, &Access::only([LLC]), &Access::none());
    assert_eq!(grants_something(&SeatFacts::with(W::Member, left)), Err(Refusal::NoEntities));
}

#[test]
fn a_place_on_the_team_grants_something() {
    // (role, clients, new clients, grants something)
    let table: [(OrgRole, &[WorkspaceId], bool, bool); 8] = [
        (O::Admin, &[], false, true),
        (O::Manager, &[], false, true),
        (O::Member, &[], false, false),
        (O::Member, &[WS], false, true),
        (O::Member, &[], true, true),
        (O::Member, &[WS, OTHER_WS], true, true),
        (O::Admin, &[WS], true, true),
        (O::Manager, &[], true, true),
    ];
    for (role, clients, new_clients, want) in table {
        let got = staff_grants_something(&StaffFacts::new(role, clients.iter().copied(), new_clients));
        assert_eq!(got.is_ok(), want, "{role:?} {clients:?} new clients: {new_clients}");
        if !want {
            assert_eq!(got, Err(Refusal::NoClients));
        }
    }
}

// ---- one's own access ------------------------------------------------------------------

#[test]
fn what_you_lose_in_a_workspace() {
    use SeatLoss::*;
    use WorkspaceAction::*;
    let all = [LLC, HOLDINGS, TRUST];
    // (before, after, lost)
    let table: Vec<(Standing, SeatFacts, Vec<SeatLoss>)> = vec![
        (client(W::Admin, &[]), SeatFacts::new(W::Admin, []), vec![]),
        (
            client(W::Admin, &[]),
            SeatFacts::with(W::Accountant, Access::All),
            vec![GiveAdmin, Action(ViewActivity), Action(RequireTwoFactor)],
        ),
        (
            client(W::Admin, &[]),
            SeatFacts::new(W::Member, [LLC]),
            vec![
                GiveAdmin,
                Action(ViewMembers),
                Action(Invite),
                Action(ViewActivity),
                Action(RequireTwoFactor),
                Action(AddEntity),
                Action(AddTransaction),
                Entity(HOLDINGS),
                Entity(TRUST),
                LaterEntities,
            ],
        ),
        (client(W::Accountant, &[LLC]), SeatFacts::new(W::Accountant, [LLC, HOLDINGS]), vec![]),
        (client(W::Accountant, &[LLC, HOLDINGS]), SeatFacts::new(W::Accountant, [HOLDINGS]), vec![Entity(LLC)]),
        (
            client(W::Accountant, &[LLC]),
            SeatFacts::new(W::Member, [LLC]),
            vec![Action(ViewMembers), Action(Invite), Action(AddEntity), Action(AddTransaction)],
        ),
        (client(W::Member, &[LLC]), SeatFacts::new(W::Member, [HOLDINGS]), vec![Entity(LLC)]),
        // A firm Member on the default (Accountant, all entities) narrowed to one entity.
        (firm_member(None), SeatFacts::new(W::Accountant, [TRUST]), vec![Entity(LLC), Entity(HOLDINGS), LaterEntities]),
    ];
    for (before, after, want) in table {
        assert_eq!(seat_losses(&before, &after, &all), want, "{before:?} → {after:?}");
    }
}

#[test]
fn what_you_lose_on_the_team() {
    use OrgAction::*;
    use StaffLoss::*;
    const THIRD: WorkspaceId = WorkspaceId(9);
    let clients = [WS, OTHER_WS, THIRD];
    let staff =
        |role, granted: &[WorkspaceId], new_clients| StaffFacts::new(role, granted.iter().copied(), new_clients);
    // (before, after, lost)
    let table: Vec<(StaffFacts, StaffFacts, Vec<StaffLoss>)> = vec![
        (staff(O::Admin, &[], false), staff(O::Admin, &[], false), vec![]),
        (
            staff(O::Admin, &[], false),
            staff(O::Manager, &[], false),
            vec![GiveAdmin, Action(ManageBilling), Action(RequireTwoFactor), Action(ViewEmailDelivery)],
        ),
        (
            staff(O::Manager, &[], false),
            staff(O::Member, &[WS], true),
            vec![
                Action(ViewTeam),
                Action(InviteStaff),
                Action(AddClient),
                Action(ViewAccessReport),
                ClientAdmin,
                AllClientsBut { none_kept: false },
            ],
        ),
        (
            staff(O::Manager, &[], false),
            staff(O::Member, &[], true),
            vec![
                Action(ViewTeam),
                Action(InviteStaff),
                Action(AddClient),
                Action(ViewAccessReport),
                ClientAdmin,
                AllClientsBut { none_kept: true },
            ],
        ),
        (
            staff(O::Admin, &[], false),
            staff(O::Member, &[WS], false),
            vec![
                GiveAdmin,
                Action(ViewTeam),
                Action(InviteStaff),
                Action(AddClient),
                Action(ManageBilling),
                Action(RequireTwoFactor),
                Action(ViewEmailDelivery),
                Action(ViewAccessReport),
                ClientAdmin,
                AllClientsBut { none_kept: false },
                LaterClients,
            ],
        ),
        (staff(O::Member, &[WS, OTHER_WS], true), staff(O::Member, &[OTHER_WS], false), vec![Client(WS), LaterClients]),
        (staff(O::Member, &[WS], false), staff(O::Member, &[WS, THIRD], true), vec![]),
    ];
    for (before, after, want) in table {
        assert_eq!(staff_losses(&before, &after, &clients), want, "{before:?} → {after:?}");
    }
}
