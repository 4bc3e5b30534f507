-- The ids each loaded page held, per target table, written by the load that claimed the page, in its transaction
-- (shared/db/pages.py keep_seen_ids): a complete read's sweep unions them instead of downloading and parsing every
-- landed page again. A page without a row (loaded before this table, or holding a record whose id only a parse
-- can judge) is parsed by the sweep as before. The sweep deletes its pages' rows in its own transaction. Only loads
-- whose sweep follows keep ids (LoadRequest.keep_ids); a complete read that failed before its sweep keeps its
-- pages' rows until their loaded_pages row goes.
CREATE TABLE page_seen_ids (
    page_ref text PRIMARY KEY REFERENCES loaded_pages (page_ref) ON DELETE CASCADE,
    ids      jsonb NOT NULL  -- {"<target table stream>": ["<id>", ...]}
);
