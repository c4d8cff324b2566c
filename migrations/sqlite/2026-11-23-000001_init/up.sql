-- Portico schema (SQLite). Keep in step with migrations/postgres (same names, same columns).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,            -- always stored lower-cased
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE org_memberships (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'member')),
    new_clients BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX org_memberships_user ON org_memberships(user_id);

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE org_client_grants (
    membership_id BIGINT NOT NULL REFERENCES org_memberships(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (membership_id, workspace_id)
);
CREATE INDEX org_client_grants_workspace ON org_client_grants(workspace_id);

CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE workspace_memberships (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'accountant', 'member')),
    invited_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX workspace_memberships_user ON workspace_memberships(user_id);

CREATE TABLE workspace_entity_grants (
    membership_id BIGINT NOT NULL REFERENCES workspace_memberships(id) ON DELETE CASCADE,
    entity_id BIGINT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (membership_id, entity_id)
);
CREATE INDEX workspace_entity_grants_entity ON workspace_entity_grants(entity_id);

-- An invite targets a workspace (workspace_id set) or the organization (workspace_id NULL).
-- The link's token is never stored: token_hash finds the invite, token_nonce lets the
-- server (which alone holds the key) derive the link again.
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    new_clients BOOLEAN NOT NULL DEFAULT FALSE,
    token_hash TEXT NOT NULL UNIQUE,
    token_nonce TEXT NOT NULL,
    invited_by BIGINT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'cancelled')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_sent_at TIMESTAMP NOT NULL,
    accepted_by BIGINT REFERENCES users(id),
    ended_at TIMESTAMP
);
CREATE UNIQUE INDEX invites_one_pending_per_workspace ON invites(workspace_id, email)
    WHERE state = 'pending' AND workspace_id IS NOT NULL;
CREATE UNIQUE INDEX invites_one_pending_per_org ON invites(organization_id, email)
    WHERE state = 'pending' AND workspace_id IS NULL;
CREATE INDEX invites_org_state ON invites(organization_id, state);

CREATE TABLE invite_entities (
    invite_id BIGINT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    entity_id BIGINT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (invite_id, entity_id)
);

CREATE TABLE invite_clients (
    invite_id BIGINT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (invite_id, workspace_id)
);

-- Email outbox: a row per email to send. The body is rendered when it is sent, from the
-- row it refers to, so that no invite link is ever stored.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    invite_id BIGINT REFERENCES invites(id) ON DELETE CASCADE,
    to_email TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_invite ON outbox(invite_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workspace_id BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    actor_id BIGINT REFERENCES users(id),
    action TEXT NOT NULL,
    target_email TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_workspace ON audit_events(workspace_id, created_at);
CREATE INDEX audit_events_org ON audit_events(organization_id, created_at);

CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    occurred_on TEXT NOT NULL,             -- ISO date, YYYY-MM-DD
    description TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX transactions_entity ON transactions(entity_id, occurred_on);
