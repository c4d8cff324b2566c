-- Long lists read one page at a time, newest first or in the order rows were added:
-- each list query walks one of these indexes and stops after a page.
CREATE INDEX invites_workspace_list ON invites(workspace_id, state, id);
CREATE INDEX invites_org_list ON invites(organization_id, state, id);
DROP INDEX invites_org_state;
CREATE INDEX audit_events_workspace_list ON audit_events(workspace_id, id);
CREATE INDEX org_memberships_org_list ON org_memberships(organization_id, id);
