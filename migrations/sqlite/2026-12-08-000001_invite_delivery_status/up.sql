-- Whether an invite's newest email (dropped ones aside) is failing or was given up, kept
-- on the invite (the outbox keeps it up to date in the same statement's transaction), so
-- that the "Delivery failed" tab and its count walk an index instead of the outbox.
ALTER TABLE invites ADD COLUMN delivery_failing BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE invites SET delivery_failing = TRUE WHERE id IN (
    SELECT o.invite_id FROM outbox o
    WHERE o.invite_id IS NOT NULL
      AND (o.state = 'failed' OR (o.state = 'pending' AND o.last_error IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM outbox n
                      WHERE n.invite_id = o.invite_id AND n.id > o.id AND n.state <> 'dropped'));
-- A status tab's count stops at 101 rows of that status; these indexes find them without
-- walking the rows of the other statuses (expired and failed invites are the rare ones).
CREATE INDEX invites_workspace_failing ON invites(workspace_id, state, delivery_failing, id);
CREATE INDEX invites_org_failing ON invites(organization_id, state, delivery_failing, id);
CREATE INDEX invites_workspace_expiry ON invites(workspace_id, state, expires_at);
CREATE INDEX invites_org_expiry ON invites(organization_id, state, expires_at);
-- A client's Members page reads the firm's Admins and Managers (who reach every client)
-- by role, not the whole team.
CREATE INDEX org_memberships_org_role ON org_memberships(organization_id, role);
