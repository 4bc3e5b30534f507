-- The per-minute budgets every worker shares (0036) shown as they stand: the API reads them for the budgets each
-- plugin names (shared/budgets/live.py), the sync-health dashboard reads them directly.
-- A points budget keeps the limit its window refills to, so a reader can say what is used of it; the workers
-- write it when they first take points in a process (shared/db/shared_budget.py), NULL until then.
ALTER TABLE points_budgets ADD COLUMN points_limit bigint CHECK (points_limit > 0);

GRANT SELECT ON rate_budgets, request_slots, points_budgets, points_tickets TO bizmetrics_reader;
