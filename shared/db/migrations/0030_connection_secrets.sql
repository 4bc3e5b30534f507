-- Credentials a connection's owner handed to the API (e.g. an API token), sealed like OAuth tokens:
-- AES-GCM bound to the connection id and the credential's name, key_id naming the key that sealed it so keys
-- can rotate (shared/tokens/connection_secrets.py). Write-only through the API: never read back to a caller.
CREATE TABLE connection_secrets (
    connection_id text NOT NULL REFERENCES connections ON DELETE CASCADE,
    name          text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    key_id        text NOT NULL,
    secret_enc    bytea NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, name)
);
