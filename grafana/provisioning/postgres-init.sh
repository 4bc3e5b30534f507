#!/usr/bin/env bash
# Passwords of the database's login roles, from the environment (never written in a file of the repository).
# docker-compose runs this once, as the superuser, when it creates the database (docker-entrypoint-initdb.d),
# right after migration 0028 made the roles (bizmetrics_owner, bizmetrics_app, bizmetrics_reader and Grafana's
# bizmetrics_grafana, a member of the SELECT-only bizmetrics_reader). Elsewhere an administrator runs 0028 and sets
# the passwords the same way; scripts/services.sh does it for the local cluster, with passwords it generates into
# .local/pg-roles.env (mode 0600).
set -euo pipefail

for name in BIZ_PG_OWNER_PASSWORD BIZ_PG_APP_PASSWORD BIZ_GRAFANA_DB_PASSWORD; do
    if [[ -z "${!name:-}" ]]; then
        echo "postgres-init: $name is not set (put it in .env; e.g. openssl rand -hex 24)" >&2
        exit 1
    fi
done

psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v owner_pw="$BIZ_PG_OWNER_PASSWORD" -v app_pw="$BIZ_PG_APP_PASSWORD" -v grafana_pw="$BIZ_GRAFANA_DB_PASSWORD" \
    -v db="${POSTGRES_DB:-postgres}" <<'SQL'
ALTER ROLE bizmetrics_owner PASSWORD :'owner_pw';
ALTER ROLE bizmetrics_app PASSWORD :'app_pw';
ALTER ROLE bizmetrics_grafana PASSWORD :'grafana_pw';
-- The owner role owns the database, so its migrations may create objects in the public schema.
ALTER DATABASE :"db" OWNER TO bizmetrics_owner;
SQL
