DROP INDEX org_memberships_org_list;
DROP INDEX audit_events_workspace_list;
CREATE INDEX invites_org_state ON invites(organization_id, state);
DROP INDEX invites_org_list;
DROP INDEX invites_workspace_list;
