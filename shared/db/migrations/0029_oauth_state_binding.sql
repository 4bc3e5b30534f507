-- A consent's one-time state is bound to the browser and the operator that started it, and carries its PKCE
-- verifier (shared/tokens/oauth_states.py).

-- SHA-256 of the random nonce set as the starting browser's __Host- cookie; the callback must present the
-- nonce. NULL: the consent was started from a terminal (consent_cli) and may only finish there.
ALTER TABLE oauth_states ADD COLUMN browser_nonce_sha256 bytea
    CHECK (browser_nonce_sha256 IS NULL OR octet_length(browser_nonce_sha256) = 32);
-- Who started the consent (Principal.actor, or "cli:<user>"): the callback records it in the audit log.
ALTER TABLE oauth_states ADD COLUMN actor text;
-- PKCE (RFC 7636): the verifier whose S256 challenge went out with the authorize URL; the token exchange sends
-- it. Lives at most as long as the state (10 minutes) and is useless without the authorization code.
ALTER TABLE oauth_states ADD COLUMN code_verifier text;
