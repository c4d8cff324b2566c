DROP INDEX org_memberships_org_role;
DROP INDEX invites_org_expiry;
DROP INDEX invites_workspace_expiry;
DROP INDEX invites_org_failing;
DROP INDEX invites_workspace_failing;
ALTER TABLE invites DROP COLUMN delivery_failing;
