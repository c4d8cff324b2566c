ALTER TABLE outbox DROP COLUMN first_failed_at;
