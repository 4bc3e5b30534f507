-- Scoped API keys for machines (Grafana, BI tools, scripts) and the audit trail of who changed what.
-- A key is stored only as a keyed hash (HMAC-SHA256 with a pepper held in Key Vault): a copy of this table
-- alone lets nobody call the API. pepper_id names the pepper a hash was made with, so the pepper can rotate.
CREATE TABLE api_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{10}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash     text NOT NULL,
    pepper_id    text NOT NULL,
    scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0),
    -- NULL: every connection; otherwise the only connections the key may read or act on.
    connections  text[],
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   text,
    -- Written at most once a minute per key: a busy key does not turn every request into a write.
    last_used_at timestamptz,
    -- Set when the key was rotated: the new key, while this one lives out its grace period.
    replaced_by  text REFERENCES api_keys (key_id),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

-- Who did what, written in the same transaction as the change it describes. Never holds a credential.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text,
    details jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_target ON audit_log (target, at DESC);

-- Append-only: a trail the app could edit would prove nothing.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
