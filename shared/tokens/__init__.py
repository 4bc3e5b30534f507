"""The OAuth token store: encrypted tokens, single-flight refresh, one-time consent states."""
