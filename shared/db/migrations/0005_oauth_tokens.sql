-- legacy: 0005_oauth_tokens
-- OAuth 2 tokens (encrypted by shared/crypto.py) and the consent flow's one-time states.

-- One row per connection. Tokens are AES-GCM sealed values bound to the connection id and purpose;
-- key_id names the key that sealed both, so keys can rotate. The rotated refresh token is written
-- in the same transaction that holds the connection's refresh lock (shared/tokens.py).
CREATE TABLE oauth_tokens (
    connection_id      text PRIMARY KEY REFERENCES connections ON DELETE CASCADE,
    key_id             text NOT NULL,
    access_token_enc   bytea NOT NULL,
    refresh_token_enc  bytea NOT NULL,
    access_expires_at  timestamptz NOT NULL,
    -- When the refresh token dies if unused (e.g. 100 days, pushed back by each refresh).
    refresh_expires_at timestamptz,
    -- When the user last granted access (e.g. a grant that lasts at most 5 years).
    consented_at       timestamptz NOT NULL,
    last_refreshed_at  timestamptz,
    refresh_count      bigint NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- A consent flow in progress: the `state` sent to the provider, single use, short-lived.
-- No foreign key: the connection may only be created when the consent comes back.
CREATE TABLE oauth_states (
    state         text PRIMARY KEY,
    plugin        text NOT NULL,
    connection_id text NOT NULL CHECK (connection_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    environment   text,
    -- The token exchange must send the same redirect URI as the authorize request.
    redirect_uri  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
