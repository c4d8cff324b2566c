-- When an email first failed (the Email delivery page says for how long it has been failing).
ALTER TABLE outbox ADD COLUMN first_failed_at TIMESTAMP;
