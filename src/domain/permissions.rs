//! The rules of roles.md, in one place. Handlers ask these; nothing else decides.

use super::{OrgRole, WorkspaceRole};

/// Actions inside a client's workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceAction {
    ViewMembers,
    ViewActivity,
    AddEntity,
    AddTransaction,
    /// Invite someone with this role, or give someone this role.
    GrantRole(WorkspaceRole),
    /// Configure, remove, or manage the pending invite of someone holding this role.
    ManageMember(WorkspaceRole),
}

pub fn workspace_allows(actor: WorkspaceRole, action: WorkspaceAction) -> bool {
    use WorkspaceAction::*;
    use WorkspaceRole::*;
    match (actor, action) {
        (Admin, _) => true,
        (Accountant, ViewMembers | AddEntity | AddTransaction) => true,
        (Accountant, GrantRole(r) | ManageMember(r)) => r != Admin,
        (Accountant, ViewActivity) => false,
        (Member, _) => false,
    }
}

/// Actions at firm level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgAction {
    ManageBilling,
    ViewTeam,
    AddClient,
    AddEntity,
    /// Invite someone with this role, or give someone this role.
    GrantRole(OrgRole),
    /// Configure, remove, or manage the pending invite of someone holding this role.
    ManageMember(OrgRole),
}

pub fn org_allows(actor: OrgRole, action: OrgAction) -> bool {
    use OrgAction::*;
    use OrgRole::*;
    match (actor, action) {
        (Admin, _) => true,
        (Manager, ManageBilling) => false,
        (Manager, ViewTeam | AddClient | AddEntity) => true,
        (Manager, GrantRole(r) | ManageMember(r)) => r != Admin,
        (Member, AddEntity) => true,
        (Member, _) => false,
    }
}

/// Nobody grants what they cannot see: the requested set must be within the actor's own.
/// `actor_scope` is None for "all".
pub fn within_scope<T: PartialEq>(actor_scope: Option<&[T]>, requested: &[T]) -> bool {
    match actor_scope {
        None => true,
        Some(own) => requested.iter().all(|r| own.contains(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrgRole as O;
    use WorkspaceRole as W;

    /// roles.md's workspace table, row by row: (action, Admin, Accountant, Member).
    #[test]
    fn workspace_table() {
        use WorkspaceAction::*;
        let table: &[(WorkspaceAction, bool, bool, bool)] = &[
            (ViewMembers, true, true, false),
            (GrantRole(W::Admin), true, false, false),
            (GrantRole(W::Accountant), true, true, false),
            (GrantRole(W::Member), true, true, false),
            (ManageMember(W::Accountant), true, true, false),
            (ManageMember(W::Member), true, true, false),
            (ManageMember(W::Admin), true, false, false),
            (AddEntity, true, true, false),
            (AddTransaction, true, true, false),
            (ViewActivity, true, false, false),
        ];
        for &(action, admin, accountant, member) in table {
            assert_eq!(workspace_allows(W::Admin, action), admin, "Admin {action:?}");
            assert_eq!(
                workspace_allows(W::Accountant, action),
                accountant,
                "Accountant {action:?}"
            );
            assert_eq!(workspace_allows(W::Member, action), member, "Member {action:?}");
        }
    }

    /// roles.md's organization table: (action, Admin, Manager, Member).
    #[test]
    fn org_table() {
        use OrgAction::*;
        let table: &[(OrgAction, bool, bool, bool)] = &[
            (ManageBilling, true, false, false),
            (GrantRole(O::Admin), true, false, false),
            (GrantRole(O::Manager), true, true, false),
            (GrantRole(O::Member), true, true, false),
            (AddClient, true, true, false),
            (AddEntity, true, true, true),
            (ManageMember(O::Member), true, true, false),
            (ManageMember(O::Manager), true, true, false),
            (ManageMember(O::Admin), true, false, false),
            (ViewTeam, true, true, false),
        ];
        for &(action, admin, manager, member) in table {
            assert_eq!(org_allows(O::Admin, action), admin, "Admin {action:?}");
            assert_eq!(org_allows(O::Manager, action), manager, "Manager {action:?}");
            assert_eq!(org_allows(O::Member, action), member, "Member {action:?}");
        }
    }

    #[test]
    fn nobody_grants_a_role_above_their_own() {
        for actor in W::ALL {
            for role in W::ALL {
                if workspace_allows(actor, WorkspaceAction::GrantRole(role)) {
                    assert!(role <= actor, "{actor:?} may grant {role:?}");
                }
            }
        }
        for actor in O::ALL {
            for role in O::ALL {
                if org_allows(actor, OrgAction::GrantRole(role)) {
                    assert!(role <= actor, "{actor:?} may grant {role:?}");
                }
            }
        }
    }

    #[test]
    fn scopes() {
        assert!(within_scope::<i64>(None, &[1, 2]));
        assert!(within_scope(Some(&[1, 2, 3][..]), &[1, 3]));
        assert!(!within_scope(Some(&[1, 2][..]), &[1, 4]));
    }
}
