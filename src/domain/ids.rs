//! Typed ids: a `WorkspaceId` cannot be passed where an `EntityId` is wanted.

macro_rules! typed_id {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}

typed_id!(UserId, OrgId, WorkspaceId, EntityId, MembershipId, InviteId, SessionId);
