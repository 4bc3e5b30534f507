-- Hand every object of the current schema to bizmetrics_owner (idempotent; needs a superuser). Run after each
-- migration run by a superuser (shared/db/migrate.py) and by scripts/services.sh on the local database, whose
-- objects older migrations created as the cluster's superuser. Indexes, and sequences owned by a column, follow
-- their table; array types follow their element type.
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                              WHEN 'S' THEN 'SEQUENCE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END AS kind,
               c.oid::regclass::text AS name
        FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relowner <> 'bizmetrics_owner'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                  AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT 'ROUTINE', p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proowner <> 'bizmetrics_owner'::regrole
        UNION ALL
        SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text FROM pg_type t
        WHERE t.typnamespace = current_schema()::regnamespace AND t.typowner <> 'bizmetrics_owner'::regrole
          AND t.typtype IN ('e', 'd', 'r', 'm')
    LOOP
        -- item.name is a reg* rendering: already quoted and schema-qualified where needed.
        EXECUTE format('ALTER %s %s OWNER TO bizmetrics_owner', item.kind, item.name);
    END LOOP;
END
$$;
