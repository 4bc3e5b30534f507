"""Core library: settings, the HTTP client, conversions, secrets, telemetry, messages, the incremental boundary."""
