-- Outbox lanes: mail to people and deliveries to machines are leased separately, each with
-- its own slots, so a hung webhook never delays a reset mail. Rows queued before this
-- migration are sorted by their job's kind. Log streams count the deliveries dropped when
-- their backlog was over the bound.
ALTER TABLE mail_outbox ADD COLUMN lane TEXT NOT NULL DEFAULT 'people';
UPDATE mail_outbox SET lane = 'machines'
 WHERE stream_id IS NOT NULL
    OR job LIKE '%"kind":"back_channel_logout"%'
    OR job LIKE '%"kind":"post_change_password_actions"%';
CREATE INDEX mail_outbox_lane_due ON mail_outbox (lane, status, next_attempt_at);
ALTER TABLE log_streams ADD COLUMN dropped BIGINT NOT NULL DEFAULT 0;
