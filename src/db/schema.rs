//! Diesel table definitions, written by hand to match `migrations/` on both backends.
//! Only column types both SQLite and PostgreSQL share are used.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        email_verified_at -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamp>,
        totp_last_step -> BigInt,
        last_sign_in_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        require_2fa_since -> Nullable<Timestamp>,
        require_2fa_grace_days -> Integer,
    }
}

diesel::table! {
    org_memberships (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        new_clients -> Bool,
        created_at -> Timestamp,
        clients_until -> Nullable<Timestamp>,
        end_notice_sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspaces (id) {
        id -> BigInt,
        organization_id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        require_2fa_since -> Nullable<Timestamp>,
        require_2fa_grace_days -> Integer,
    }
}

diesel::table! {
    org_client_grants (membership_id, workspace_id) {
        membership_id -> BigInt,
        workspace_id -> BigInt,
    }
}

diesel::table! {
    entities (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    workspace_memberships (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        invited_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        all_entities -> Bool,
        ends_at -> Nullable<Timestamp>,
        end_notice_sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspace_entity_grants (membership_id, entity_id) {
        membership_id -> BigInt,
        entity_id -> BigInt,
    }
}

diesel::table! {
    invites (id) {
        id -> BigInt,
        organization_id -> BigInt,
        workspace_id -> Nullable<BigInt>,
        email -> Text,
        role -> Text,
        new_clients -> Bool,
        token_hash -> Text,
        token_nonce -> Text,
        invited_by -> BigInt,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_sent_at -> Timestamp,
        accepted_by -> Nullable<BigInt>,
        ended_at -> Nullable<Timestamp>,
        all_entities -> Bool,
        access_ends_at -> Nullable<Timestamp>,
        reminder_sent_at -> Nullable<Timestamp>,
        delivery_failing -> Bool,
    }
}

diesel::table! {
    invite_entities (invite_id, entity_id) {
        invite_id -> BigInt,
        entity_id -> BigInt,
    }
}

diesel::table! {
    invite_clients (invite_id, workspace_id) {
        invite_id -> BigInt,
        workspace_id -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        invite_id -> Nullable<BigInt>,
        to_email -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        token_id -> Nullable<BigInt>,
        first_failed_at -> Nullable<Timestamp>,
        membership_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        user_agent -> Text,
        ip -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        purpose -> Text,
        email -> Text,
        token_hash -> Text,
        token_nonce -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_events (id) {
        id -> BigInt,
        scope -> Text,
        subject -> Text,
        weight -> Integer,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        organization_id -> BigInt,
        workspace_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_email -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    transactions (id) {
        id -> BigInt,
        entity_id -> BigInt,
        occurred_on -> Text,
        description -> Text,
        amount_cents -> BigInt,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(org_memberships -> organizations (organization_id));
diesel::joinable!(org_memberships -> users (user_id));
diesel::joinable!(workspaces -> organizations (organization_id));
diesel::joinable!(org_client_grants -> org_memberships (membership_id));
diesel::joinable!(org_client_grants -> workspaces (workspace_id));
diesel::joinable!(entities -> workspaces (workspace_id));
diesel::joinable!(workspace_memberships -> workspaces (workspace_id));
diesel::joinable!(workspace_memberships -> users (user_id));
diesel::joinable!(workspace_entity_grants -> workspace_memberships (membership_id));
diesel::joinable!(workspace_entity_grants -> entities (entity_id));
diesel::joinable!(invites -> organizations (organization_id));
diesel::joinable!(invites -> users (invited_by));
diesel::joinable!(invite_entities -> invites (invite_id));
diesel::joinable!(invite_entities -> entities (entity_id));
diesel::joinable!(invite_clients -> invites (invite_id));
diesel::joinable!(invite_clients -> workspaces (workspace_id));
diesel::joinable!(outbox -> invites (invite_id));
diesel::joinable!(outbox -> account_tokens (token_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(transactions -> entities (entity_id));
diesel::joinable!(transactions -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    organizations,
    org_memberships,
    workspaces,
    org_client_grants,
    entities,
    workspace_memberships,
    workspace_entity_grants,
    invites,
    invite_entities,
    invite_clients,
    outbox,
    audit_events,
    transactions,
    recovery_codes,
    sessions,
    account_tokens,
    rate_events,
);
