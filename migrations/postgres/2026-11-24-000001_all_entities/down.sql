ALTER TABLE invites DROP COLUMN all_entities;
ALTER TABLE workspace_memberships DROP COLUMN all_entities;
