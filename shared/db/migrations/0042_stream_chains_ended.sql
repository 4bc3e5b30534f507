-- When a split stream's chains had all ended and its own chain went on to read what changed while they ran (its
-- last read, one request): the connection's metric rebuild may then run beside that read instead of after it,
-- once no other stream of the run has more than such a read left (activities/aggregates.py refresh_ahead).
ALTER TABLE sync_run_streams ADD COLUMN chains_ended_at timestamptz;
