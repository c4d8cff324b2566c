-- "All entities, current and future" for any workspace role, not only Admins: a firm Member
-- starts that way in a client chosen for them, and a workspace Admin can give it to anyone.
ALTER TABLE workspace_memberships ADD COLUMN all_entities BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE invites ADD COLUMN all_entities BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE workspace_memberships SET all_entities = TRUE WHERE role = 'admin';
UPDATE invites SET all_entities = TRUE WHERE role = 'admin' AND workspace_id IS NOT NULL;
