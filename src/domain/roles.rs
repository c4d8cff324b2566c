//! Workspace and organization roles, stored as lower-case words.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkspaceRole {
    Member,
    Accountant,
    Admin,
}

impl WorkspaceRole {
    pub const ALL: [WorkspaceRole; 3] = [WorkspaceRole::Admin, WorkspaceRole::Accountant, WorkspaceRole::Member];

    pub fn parse(s: &str) -> Option<WorkspaceRole> {
        match s {
            "admin" => Some(WorkspaceRole::Admin),
            "accountant" => Some(WorkspaceRole::Accountant),
            "member" => Some(WorkspaceRole::Member),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "admin",
            WorkspaceRole::Accountant => "accountant",
            WorkspaceRole::Member => "member",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "Admin",
            WorkspaceRole::Accountant => "Accountant",
            WorkspaceRole::Member => "Member",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "Full control of the workspace: all entities, now and future, and its members.",
            WorkspaceRole::Accountant => "Does the accounting on chosen entities and manages members, but not Admins.",
            WorkspaceRole::Member => "Reads the books of chosen entities. No administrative actions.",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgRole {
    Member,
    Manager,
    Admin,
}

impl OrgRole {
    pub const ALL: [OrgRole; 3] = [OrgRole::Admin, OrgRole::Manager, OrgRole::Member];

    pub fn parse(s: &str) -> Option<OrgRole> {
        match s {
            "admin" => Some(OrgRole::Admin),
            "manager" => Some(OrgRole::Manager),
            "member" => Some(OrgRole::Member),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Admin => "admin",
            OrgRole::Manager => "manager",
            OrgRole::Member => "member",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgRole::Admin => "Admin",
            OrgRole::Manager => "Manager",
            OrgRole::Member => "Member",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            OrgRole::Admin => "Everything at firm level, including billing; sees every client.",
            OrgRole::Manager => "Manages clients and team (not Admins); sees every client.",
            OrgRole::Member => "Sees only the clients chosen for them.",
        }
    }
}
