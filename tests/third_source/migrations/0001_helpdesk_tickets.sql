-- The helpdesk's tickets: the loader's common columns (tables.py declares the typed ones in the same order), and
-- the dirty-marking triggers its metric catalog (metrics.py) needs: core's migrations have run before this.
CREATE TABLE helpdesk_ticket (
    connection_id text NOT NULL,
    id            text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    title         text,
    status        text,
    amount        numeric,
    payload       jsonb NOT NULL,
    run_id        text NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, id)
);
CREATE INDEX helpdesk_ticket_created ON helpdesk_ticket (connection_id, created_at);

SELECT metric_watch('helpdesk_ticket', ARRAY['r.created_at@ts'],
    ARRAY['r.created_at', 'r.amount', 'r.status', 'r.deleted_at']);
