-- Every role has a statement timeout, the migrating owner too: a generous one, so a migration is never cut off
-- in practice, while a statement stuck on something unforeseen still ends (its lock_timeout of 0028 stays).
-- Like 0028, only where the migrating role may manage roles; elsewhere an administrator runs the same line.
DO $$
BEGIN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        ALTER ROLE bizmetrics_owner SET statement_timeout = '2h';
    ELSE
        RAISE NOTICE 'as an administrator: ALTER ROLE bizmetrics_owner SET statement_timeout = ''2h''';
    END IF;
END
$$;
