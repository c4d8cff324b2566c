//! Invite reminders: one email, a set time before a pending invite expires.
