-- Access over time (issue 11).
-- An end date on a workspace invite (copied to the membership it makes), on a workspace
-- membership, and on a firm Member's client access (the team membership): the access ends
-- by itself at that moment (midnight UTC at the start of the end date).
ALTER TABLE invites ADD COLUMN access_ends_at TIMESTAMP;
ALTER TABLE workspace_memberships ADD COLUMN ends_at TIMESTAMP;
ALTER TABLE org_memberships ADD COLUMN clients_until TIMESTAMP;
-- The "access ends in 7 days" email to the workspace's Admins went out (once per end date).
ALTER TABLE workspace_memberships ADD COLUMN end_notice_sent_at TIMESTAMP;
ALTER TABLE org_memberships ADD COLUMN end_notice_sent_at TIMESTAMP;
-- A pending invite's one reminder before it expires (cleared when it is resent or renewed).
ALTER TABLE invites ADD COLUMN reminder_sent_at TIMESTAMP;
-- When someone last signed in (the access report).
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMP;
-- The membership an "access ends soon" email is about (rendered at send time, dropped if
-- the end date changed or the access is gone).
ALTER TABLE outbox ADD COLUMN membership_id BIGINT;
CREATE INDEX workspace_memberships_ends ON workspace_memberships(ends_at);
CREATE INDEX org_memberships_clients_until ON org_memberships(clients_until);
CREATE INDEX invites_pending_expiry ON invites(state, expires_at);
