-- Identity and sessions (issue 8): verified emails, server-side sessions, password reset
-- and email verification links, two-factor authentication, abuse limits kept in the database.

-- NULL until the owner of the address proves it (a verification link, an invite link, a
-- password reset link). Accounts that accepted an invite proved it then.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP;
UPDATE users SET email_verified_at = (SELECT MIN(i.ended_at) FROM invites i WHERE i.accepted_by = users.id);
-- Two-factor authentication (TOTP). The secret is encrypted with a key derived from
-- SESSION_KEY (a database dump alone does not give it); NULL when two-factor is off.
-- totp_enabled_at is NULL while a secret is only being set up.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMP;
-- The last 30-second step a code was accepted for: a code works once.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,               -- SHA-256 of the code; the code is shown once
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- Server-side sessions. The cookie carries a random key; the database keeps only its
-- SHA-256, so a dump does not open anyone's session.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    state TEXT NOT NULL,                   -- the session's values, as JSON
    user_agent TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL          -- the absolute end; idleness is judged from last_seen_at
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Email verification and password reset links: like invite links, the token is never
-- stored (token_hash finds the row, token_nonce lets the server derive the link again).
CREATE TABLE account_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email TEXT NOT NULL,                   -- the address the link was sent to
    token_hash TEXT NOT NULL UNIQUE,
    token_nonce TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX account_tokens_user ON account_tokens(user_id, purpose);

ALTER TABLE outbox ADD COLUMN token_id BIGINT REFERENCES account_tokens(id) ON DELETE CASCADE;
CREATE INDEX outbox_token ON outbox(token_id);

-- Abuse limits: one row per counted event (weight: how many it counts for, e.g. a bulk
-- resend of 20 invites), summed over a sliding window. Shared by every instance.
CREATE TABLE rate_events (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    weight INTEGER NOT NULL DEFAULT 1,
    at TIMESTAMP NOT NULL
);
CREATE INDEX rate_events_lookup ON rate_events(scope, subject, at);
CREATE INDEX rate_events_at ON rate_events(at);

-- "Require two-factor authentication": NULL when not required; otherwise since when, and
-- the grace period (days) each person has, from then or from joining, to turn it on.
ALTER TABLE organizations ADD COLUMN require_2fa_since TIMESTAMP;
ALTER TABLE organizations ADD COLUMN require_2fa_grace_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN require_2fa_since TIMESTAMP;
ALTER TABLE workspaces ADD COLUMN require_2fa_grace_days INTEGER NOT NULL DEFAULT 0;
