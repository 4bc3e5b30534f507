-- legacy: 0023_monday_users_2026_10
-- monday API 2026-10 removed User.enabled, is_admin, is_guest, is_pending, is_view_only, is_verified, join_date
-- and the photo_* fields; since 2026-07 their replacements are `status` (ACTIVE / PENDING / INACTIVE), `kind`,
-- `is_deleted`, `became_active_at` and `invitation_method`. The typed columns follow; rows loaded before keep
-- every value: mapped into the new columns where the old flags say it unambiguously, and whole in `payload`
-- (monday's record as it came, untouched here).
ALTER TABLE monday_user
    ADD COLUMN status            text,
    ADD COLUMN kind              text,
    ADD COLUMN is_deleted        boolean,
    ADD COLUMN became_active_at  timestamptz,
    ADD COLUMN invitation_method text;

-- enabled = false was a deactivated user (whether or not the invitation had been accepted); is_pending an
-- invited user who has not joined. Kinds: lower-case UserKindFilter names. "member" only where every role
-- flag is known to be false; anything unknown stays NULL (the next sync fills it from monday).
-- is_deleted, became_active_at (a date-only join_date is not an instant) and invitation_method have no sound
-- source in the old fields: NULL until the next sync; join_date stays in payload.
UPDATE monday_user SET
    status = CASE WHEN enabled IS FALSE THEN 'INACTIVE'
                  WHEN is_pending IS TRUE THEN 'PENDING'
                  WHEN enabled IS TRUE AND is_pending IS FALSE THEN 'ACTIVE' END,
    kind = CASE WHEN is_admin IS TRUE THEN 'admin'
                WHEN is_guest IS TRUE THEN 'guest'
                WHEN payload->'is_view_only' = 'true'::jsonb THEN 'view_only'
                WHEN is_admin IS FALSE AND is_guest IS FALSE AND payload->'is_view_only' = 'false'::jsonb
                    THEN 'member' END;

ALTER TABLE monday_user
    DROP COLUMN enabled,
    DROP COLUMN is_admin,
    DROP COLUMN is_guest,
    DROP COLUMN is_pending;
