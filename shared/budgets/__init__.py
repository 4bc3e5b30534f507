"""Budgets planned ahead: the NCRONTAB schedule counter, the planner (pure) and its feed from the database."""
