#!/usr/bin/env bash
# Bizmetrics local services: PostgreSQL, Azurite and the API simulators, all on loopback only.
#
# Usage: scripts/services.sh start|stop|status|env|restart-sims|clean-data
#   start [NAME..] start every service (or the named ones: postgres azurite qbo-sim monday-sim) that is not running
#                  (idempotent; fast when all are up)
#   stop [NAME..]  stop them, or the named ones (fine when nothing runs)
#   status        one line per service, "up" or "down"; exit 0 when every available service is up, else 3
#   env           print export lines: eval "$(scripts/services.sh env)" (each database role's DSN, storage, simulators)
#   restart-sims  restart the API simulators (fresh demo data)
#   clean-data    stop, then delete the PostgreSQL cluster and the Azurite data
#
# Run scripts/bootstrap.sh first (binaries, virtualenv, Azurite). Runtime files live in .local/ (gitignored):
#   .local/pg/data      PostgreSQL cluster (or /var/tmp/bizmetrics-<hash>/pg/data, see below)
#   .local/azurite      Azurite storage
#   .local/run          pid files and logs (postgres.log, azurite.log, qbo-sim.log, monday-sim.log)
#   .local/pg-roles.env  local passwords of the database's login roles (generated once, mode 0600)
# As root, PostgreSQL runs as the system user "bizmetrics" (created once, no login shell); if that user cannot
# traverse the checkout path, the cluster lives under /var/tmp/bizmetrics-<hash of checkout path> instead.
# Database roles (migration 0028): bizmetrics (the cluster's superuser: setup only), bizmetrics_owner (owns the
# schema, runs the migrations), bizmetrics_app (the app: rows only), bizmetrics_grafana (read-only, member of
# bizmetrics_reader). `start` creates them, gives them local passwords and migrates the database as the owner.
#
# Environment knobs: BIZ_SKIP_SIMS=1 (don't start simulators), BIZ_PG_LIBDIR (default /usr/lib/postgresql).
# A throwaway set of services of its own (the fault tests restart them; never the shared ones): BIZ_LOCAL_DIR (state
# in place of .local), BIZ_PG_PORT (54329), BIZ_AZ_BLOB_PORT, BIZ_AZ_QUEUE_PORT, BIZ_AZ_TABLE_PORT (10000-10002).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
LOCAL="${BIZ_LOCAL_DIR:-$ROOT/.local}"
RUN="$LOCAL/run"

PG_LIBDIR="${BIZ_PG_LIBDIR:-/usr/lib/postgresql}"
PG_HOST=127.0.0.1
PG_PORT="${BIZ_PG_PORT:-54329}"
PG_ROLE=bizmetrics          # database superuser role and database name
PG_DB=bizmetrics
PG_OS_USER_WHEN_ROOT=bizmetrics
PG_DSN="postgresql://$PG_ROLE@$PG_HOST:$PG_PORT/$PG_DB"
PG_OWNER_ROLE=bizmetrics_owner
PG_APP_ROLE=bizmetrics_app
PG_GRAFANA_ROLE=bizmetrics_grafana
PG_ROLES_ENV="$LOCAL/pg-roles.env"
PG_LOG="$RUN/postgres.log"

AZ_HOST=127.0.0.1
AZ_BLOB_PORT="${BIZ_AZ_BLOB_PORT:-10000}"
AZ_QUEUE_PORT="${BIZ_AZ_QUEUE_PORT:-10001}"
AZ_TABLE_PORT="${BIZ_AZ_TABLE_PORT:-10002}"
AZ_BIN="$ROOT/.local/node/node_modules/.bin/azurite"  # installed once per checkout by bootstrap.sh
AZ_DATA="$LOCAL/azurite"
AZ_PID="$RUN/azurite.pid"
AZ_LOG="$RUN/azurite.log"
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZ_CONN="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZ_KEY;"
AZ_CONN+="BlobEndpoint=http://$AZ_HOST:$AZ_BLOB_PORT/devstoreaccount1;"
AZ_CONN+="QueueEndpoint=http://$AZ_HOST:$AZ_QUEUE_PORT/devstoreaccount1;"
AZ_CONN+="TableEndpoint=http://$AZ_HOST:$AZ_TABLE_PORT/devstoreaccount1;"

SIM_HOST=127.0.0.1
QBO_PORT=8761
MONDAY_PORT=8762
VENV_PY="$ROOT/.venv/bin/python"

START_TIMEOUT=60   # seconds to wait for each service to become ready

# Ambient libpq settings must not redirect our own client calls.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGPASSFILE PGOPTIONS PGDATA PGSSLMODE

log() { printf '%s\n' "$*"; }
warn() { printf 'services: WARNING: %s\n' "$*" >&2; }
err() { printf 'services: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

# --- helpers -------------------------------------------------------------------------------------------------

port_open() {  # $1 host, $2 port: true when something accepts TCP connections there
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null 9>&-
}

port_holder_hint() {  # best effort: who listens on $1 (port)
    command -v ss >/dev/null 2>&1 || return 0
    local line
    line="$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3 | tr -s ' ' | paste -sd';' || true)"
    [[ -n "$line" ]] && printf ' (ss: %s)' "$line"
    return 0
}

port_taken_msg() {  # $1 port, $2 service name
    printf 'port %s on 127.0.0.1 is already in use by another process%s, so %s cannot start. ' \
        "$1" "$(port_holder_hint "$1")" "$2"
    printf 'Stop that process (another checkout? run its scripts/services.sh stop) and retry.'
}

tail_log() {  # $1 file
    [[ -f "$1" ]] || return 0
    printf -- '----- last lines of %s -----\n' "$1" >&2
    tail -n 25 "$1" >&2 || true
    printf -- '-----\n' >&2
}

pid_alive() {  # $1 pid: exists and is not a zombie (PID 1 here may be slow to reap orphans)
    local st
    [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
    st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    st="${st##*) }"
    [[ "${st%% *}" != [ZX] ]]
}

pid_cmd_matches() {  # $1 pid, $2 substring expected in its command line
    local pid="$1" cmd
    pid_alive "$pid" || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmd" == *"$2"* ]]
}

pidfile_alive() {  # $1 pid file, $2 cmdline substring; prints the pid when it is alive and ours
    local pid
    [[ -f "$1" ]] || return 1
    pid="$(head -n 1 "$1" 2>/dev/null || true)"
    pid_cmd_matches "$pid" "$2" || return 1
    printf '%s\n' "$pid"
}

# Start "$@" detached (own session, stdio to $2, no inherited lock fd); the pid written to $1 is that of the
# exec'ed program itself, whether or not setsid had to fork.
spawn_detached() {
    local pidfile="$1" logfile="$2"
    shift 2
    rm -f "$pidfile"
    printf '\n===== %s starting: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >>"$logfile"
    # shellcheck disable=SC2016  # expanded by the inner bash
    setsid nohup bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.1
    done
    return 1
}

stop_pid() {  # $1 pid, $2 name: SIGTERM, wait up to 20 s, then SIGKILL
    local pid="$1" name="$2" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    warn "$name (pid $pid) did not exit after SIGTERM within 20 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

http_ok() {  # $1 url: true on HTTP 2xx
    [[ -x "$VENV_PY" ]] || return 1
    "$VENV_PY" - "$1" 9>&- <<'EOF' >/dev/null 2>&1
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if 200 <= r.status < 300 else 1)
EOF
}

take_lock() {  # serialize start/stop/... per checkout; fd 9 is closed for every long-lived child
    mkdir -p "$RUN"
    chmod 0755 "$LOCAL" "$RUN"
    exec 9>"$RUN/.services.lock"
    flock -w 300 9 || die "another scripts/services.sh is still running (lock $RUN/.services.lock)"
}

# --- PostgreSQL ----------------------------------------------------------------------------------------------

PG_BIN="" PG_BASE="" PG_DATA="" PG_SOCK=""
if [[ $EUID -eq 0 ]]; then PG_USER="$PG_OS_USER_WHEN_ROOT"; else PG_USER="$(id -un)"; fi

pg_find_bin() {
    local d
    PG_BIN=""
    while IFS= read -r d; do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/postgres" ]] && PG_BIN="$d"
    done < <(find "$PG_LIBDIR" -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V)
    [[ -n "$PG_BIN" ]]
}

# Run a command as the cluster's OS user, from a directory that user can enter.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_fallback_base() {  # one per checkout, or per BIZ_LOCAL_DIR: a throwaway cluster never shares the checkout's
    local owner="$ROOT"
    [[ "$LOCAL" == "$ROOT/.local" ]] || owner="$LOCAL"
    printf '/var/tmp/bizmetrics-%s\n' "$(printf '%s' "$owner" | sha256sum | cut -c1-12)"
}

# Decide PG_USER, PG_BASE, PG_DATA, PG_SOCK (no side effects beyond reading).
pg_layout() {
    local fb
    fb="$(pg_fallback_base)"
    if [[ -f "$LOCAL/pg/data/PG_VERSION" ]]; then
        PG_BASE="$LOCAL/pg"
    elif [[ $EUID -eq 0 && -f "$fb/pg/data/PG_VERSION" ]]; then
        PG_BASE="$fb/pg"
    elif [[ $EUID -eq 0 ]] && ! pg_user_can_traverse "$LOCAL"; then
        PG_BASE="$fb/pg"
    else
        PG_BASE="$LOCAL/pg"
    fi
    PG_DATA="$PG_BASE/data"
    PG_SOCK="$PG_BASE/run"
    # A Unix socket path is limited to 107 bytes; a deep checkout gets its socket under /var/tmp.
    if ((${#PG_SOCK} + 20 > 107)); then
        PG_SOCK="$fb/run"
    fi
}

pg_user_can_traverse() {  # $1 dir: can the cluster user enter it?
    [[ $EUID -eq 0 ]] || return 0
    local d="$1"
    [[ -d "$d" ]] || d="$(dirname "$d")"
    if id -u "$PG_USER" >/dev/null 2>&1; then
        runuser -u "$PG_USER" -- test -x "$d" 2>/dev/null 9>&-
        return
    fi
    # User not created yet: every ancestor must be searchable by "others".
    while [[ "$d" != / && -n "$d" ]]; do
        [[ "$(stat -c '%A' "$d")" == ?????????[xt] ]] || return 1
        d="$(dirname "$d")"
    done
}

pg_ensure_os_user() {
    [[ $EUID -eq 0 ]] || return 0
    id -u "$PG_USER" >/dev/null 2>&1 && return 0
    log "postgres: creating system user '$PG_USER' (no login shell) to run the cluster"
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" \
        --comment "Bizmetrics local PostgreSQL" "$PG_USER" 9>&- || die "useradd $PG_USER failed"
}

pg_mkdir_owned() {  # $1 dir, $2 mode: create (root: owned by the cluster user)
    local d="$1"
    if [[ -L "$d" ]]; then die "$d is a symlink; refusing to use it"; fi
    mkdir -p "$d"
    if [[ $EUID -eq 0 ]]; then chown "$PG_USER:" "$d"; fi
    chmod "$2" "$d"
}

pg_prepare_dirs() {
    local fb
    fb="$(pg_fallback_base)"
    if [[ "$PG_BASE" == "$fb"/* || "$PG_SOCK" == "$fb"/* ]]; then
        if [[ -e "$fb" ]]; then
            [[ -d "$fb" && ! -L "$fb" ]] || die "$fb exists but is not a directory; remove it"
            local owner
            owner="$(stat -c '%U' "$fb")"
            [[ "$owner" == "$PG_USER" || "$owner" == root || "$owner" == "$(id -un)" ]] \
                || die "$fb is owned by '$owner', not by us; remove it and retry"
        fi
        pg_mkdir_owned "$fb" 0711
    fi
    pg_mkdir_owned "$PG_BASE" 0700
    pg_mkdir_owned "$PG_SOCK" 0755
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        pg_mkdir_owned "$PG_DATA" 0700
    elif [[ $EUID -eq 0 && "$(stat -c %U "$PG_DATA")" != "$PG_USER" ]]; then
        # e.g. the system user was re-created with another uid
        log "postgres: re-owning $PG_DATA to $PG_USER"
        chown -R "$PG_USER:" "$PG_DATA"
    fi
    touch "$PG_LOG"
}

pg_running_pid() {  # prints the postmaster pid when this cluster's postmaster is alive
    local pid
    [[ -r "$PG_DATA/postmaster.pid" ]] || return 1
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    pid_alive "$pid" || return 1
    # The pid may have been reused (stale file after a crash): it must be a postmaster of *this* data dir.
    pid_cmd_matches "$pid" "-D $PG_DATA " || return 1
    printf '%s\n' "$pid"
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d postgres -t 2 9>&-
}

pg_initdb() {
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    log "postgres: initdb $PG_DATA (user $PG_ROLE, trust auth, UTF8, locale $locale)"
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_ROLE" --auth=trust -E UTF8 --locale="$locale" \
        >>"$RUN/initdb.log" 2>&1 </dev/null 9>&-; then
        tail_log "$RUN/initdb.log"
        die "initdb failed (log: $RUN/initdb.log)"
    fi
}

pg_write_conf() {  # keep bizmetrics.conf (included from postgresql.conf) in line with this script
    local conf="$PG_DATA/bizmetrics.conf" tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Managed by scripts/services.sh: rewritten on every start, edit the script instead.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0770
max_connections = 100
superuser_reserved_connections = 3
# Sized for a 2-core development / CI box.
shared_buffers = 256MB
effective_cache_size = 1GB
work_mem = 8MB
maintenance_work_mem = 64MB
wal_buffers = 16MB
min_wal_size = 80MB
max_wal_size = 1GB
checkpoint_completion_target = 0.9
random_page_cost = 1.1
effective_io_concurrency = 100
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    if [[ -f "$conf" ]] && cmp -s "$tmp" "$conf"; then
        rm -f "$tmp"
        return 1   # unchanged
    fi
    cat "$tmp" >"$conf.new" && rm -f "$tmp"
    if [[ $EUID -eq 0 ]]; then chown "$PG_USER:" "$conf.new"; fi
    chmod 0600 "$conf.new"
    mv -f "$conf.new" "$conf"
    if ! grep -q "^include_if_exists = 'bizmetrics.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# Bizmetrics settings (scripts/services.sh)\ninclude_if_exists = 'bizmetrics.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
    return 0   # changed
}

pg_ensure_db() {
    local exists
    exists="$("$PG_BIN/psql" -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" 9>&-)" || die "postgres: cannot query pg_database"
    if [[ "$exists" != 1 ]]; then
        log "postgres: creating database $PG_DB"
        "$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" "$PG_DB" 9>&- \
            || die "postgres: createdb $PG_DB failed"
    fi
}

pg_psql() {  # psql as the superuser on the app database; extra arguments follow
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" "$@" 9>&-
}

random_password() {
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom 2>/dev/null | head -c 32 || true
}

# Local passwords of the login roles, generated once into .local/pg-roles.env (0600). The local cluster trusts
# loopback logins, so they are not needed to connect here; they make the roles usable as soon as password
# authentication is switched on, and give a local Grafana its password (never a hard-coded one).
pg_role_passwords() {
    if [[ ! -s "$PG_ROLES_ENV" ]]; then
        (
            umask 077
            {
                printf 'BIZ_PG_OWNER_PASSWORD=%s\n' "$(random_password)"
                printf 'BIZ_PG_APP_PASSWORD=%s\n' "$(random_password)"
                printf 'BIZ_GRAFANA_DB_PASSWORD=%s\n' "$(random_password)"
            } >"$PG_ROLES_ENV.new"
        )
        mv -f "$PG_ROLES_ENV.new" "$PG_ROLES_ENV"
    fi
    chmod 0600 "$PG_ROLES_ENV"
    # shellcheck disable=SC1090  # generated above: KEY=alphanumeric lines only
    source "$PG_ROLES_ENV"
}

# The roles exist with their timeouts and local passwords, the owner role owns the database and every object in
# it (older local databases were migrated as the superuser): migration 0028 run as the superuser does the first
# part (idempotent), shared/db/adopt_objects.sql the last.
pg_ensure_roles() {
    pg_role_passwords
    pg_psql -f "$ROOT/shared/db/migrations/0028_database_roles.sql" >/dev/null \
        || { err "postgres: creating the database roles failed"; return 1; }
    pg_psql -v owner_pw="$BIZ_PG_OWNER_PASSWORD" -v app_pw="$BIZ_PG_APP_PASSWORD" \
        -v grafana_pw="$BIZ_GRAFANA_DB_PASSWORD" >/dev/null <<SQL || { err "postgres: setting role passwords failed"; return 1; }
ALTER ROLE $PG_OWNER_ROLE PASSWORD :'owner_pw';
ALTER ROLE $PG_APP_ROLE PASSWORD :'app_pw';
ALTER ROLE $PG_GRAFANA_ROLE PASSWORD :'grafana_pw';
ALTER DATABASE $PG_DB OWNER TO $PG_OWNER_ROLE;
SQL
    pg_psql -f "$ROOT/shared/db/adopt_objects.sql" >/dev/null \
        || { err "postgres: handing the schema to $PG_OWNER_ROLE failed"; return 1; }
}

# The deploy step, as on Azure: migrations run as the owner role, never by the app.
pg_migrate() {
    [[ -x "$VENV_PY" ]] || { warn "postgres: $VENV_PY missing, database not migrated (run scripts/bootstrap.sh)"; return 0; }
    local out
    if ! out="$(cd "$ROOT" && BIZ_PG_OWNER_DSN="$(pg_role_dsn "$PG_OWNER_ROLE")" "$VENV_PY" -m plugins.migrate_cli 2>&1 \
        </dev/null 9>&-)"; then
        printf '%s\n' "$out" >&2
        err "postgres: migrating $PG_DB as $PG_OWNER_ROLE failed"
        return 1
    fi
    log "postgres: migrations as $PG_OWNER_ROLE: ${out##*$'\n'}"
}

pg_role_dsn() {  # $1 role: its DSN (no password: the local cluster trusts loopback logins)
    printf 'postgresql://%s@%s:%s/%s' "$1" "$PG_HOST" "$PG_PORT" "$PG_DB"
}

pg_start() {
    pg_find_bin || die "PostgreSQL server binaries not found under $PG_LIBDIR/*/bin. Run scripts/bootstrap.sh first."
    pg_ensure_os_user
    pg_layout
    local pid
    if pid="$(pg_running_pid)"; then
        if pg_write_conf; then
            warn "postgres: settings changed; run 'scripts/services.sh stop' and 'start' to apply them"
        fi
        pg_wait_ready "$pid" || return 1
        pg_ensure_db
        pg_ensure_roles || return 1
        pg_migrate || return 1
        log "postgres: already running (pid $pid) $PG_DSN"
        return 0
    fi
    if port_open "$PG_HOST" "$PG_PORT"; then
        err "$(port_taken_msg "$PG_PORT" postgres)"
        return 1
    fi
    if [[ "$PG_BASE" != "$LOCAL/pg" ]]; then
        log "postgres: user '$PG_USER' cannot traverse $ROOT; using data dir $PG_DATA instead of .local/pg/data"
    elif ! pg_user_can_traverse "$LOCAL"; then
        err "postgres: cluster user '$PG_USER' cannot reach $PG_DATA (a parent directory is not searchable)." \
            "Make the checkout path searchable (chmod o+x on its parents) or run 'scripts/services.sh clean-data'."
        return 1
    fi
    if [[ "$PG_SOCK" != "$PG_BASE"/* ]]; then
        log "postgres: checkout path too long for a Unix socket; socket directory is $PG_SOCK"
    fi
    pg_prepare_dirs
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        pg_initdb
    fi
    # Leftovers of a crash / killed session (their pid may be reused or an unreaped zombie, which makes the
    # server refuse to start). Safe to drop: no postmaster of this data dir runs and nothing holds the port.
    local stale
    for stale in "$PG_DATA/postmaster.pid" "$PG_SOCK/.s.PGSQL.$PG_PORT.lock" "$PG_SOCK/.s.PGSQL.$PG_PORT"; do
        if [[ -e "$stale" || -L "$stale" ]]; then
            log "postgres: removing stale $stale (no postmaster of this data dir runs)"
            rm -f "$stale"
        fi
    done
    local cluster_ver bin_ver
    cluster_ver="$(cat "$PG_DATA/PG_VERSION")"
    bin_ver="$("$PG_BIN/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
    if [[ "$cluster_ver" != "$bin_ver" ]]; then
        die "postgres: cluster $PG_DATA was made by PostgreSQL $cluster_ver but the binaries are $bin_ver ($PG_BIN)." \
            "Run 'scripts/services.sh clean-data' (deletes local data) and start again."
    fi
    pg_write_conf || true
    log "postgres: starting ($PG_BIN, data $PG_DATA, as user $PG_USER)"
    # pg_ctl without -l: the server's output goes to the log file we opened (works even when the cluster
    # user cannot reach .local/run), and no pipe of our caller stays open.
    if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -w -t "$START_TIMEOUT" -s </dev/null >>"$PG_LOG" 2>&1 9>&-; then
        tail_log "$PG_LOG"
        err "postgres: pg_ctl start failed (log: $PG_LOG)"
        return 1
    fi
    pid="$(pg_running_pid)" || { tail_log "$PG_LOG"; err "postgres: no postmaster after pg_ctl start"; return 1; }
    pg_wait_ready "$pid" || return 1
    pg_ensure_db
    pg_ensure_roles || return 1
    pg_migrate || return 1
    log "postgres: up (pid $pid, user $PG_USER) $PG_DSN  log: $PG_LOG"
}

pg_wait_ready() {  # $1 postmaster pid
    local i
    for ((i = 0; i < START_TIMEOUT * 4; i++)); do
        pg_ready && return 0
        pid_alive "$1" || break
        sleep 0.25
    done
    tail_log "$PG_LOG"
    err "postgres: not accepting connections on $PG_HOST:$PG_PORT (log: $PG_LOG)"
    return 1
}

pg_stop() {
    if ! pg_find_bin; then
        log "postgres: not installed (nothing to stop)"
        return 0
    fi
    pg_layout
    local pid
    if ! pid="$(pg_running_pid)"; then
        log "postgres: not running"
        return 0
    fi
    log "postgres: stopping (pid $pid, pg_ctl stop -m fast)"
    if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$START_TIMEOUT" -s </dev/null 9>&-; then
        err "postgres: pg_ctl stop failed"
        return 1
    fi
}

pg_status() {
    local pid
    if ! pg_find_bin; then
        printf '%-9s %-5s %s\n' postgres down "(server binaries missing: run scripts/bootstrap.sh)"
        return 1
    fi
    pg_layout
    if pid="$(pg_running_pid)" && pg_ready; then
        printf '%-9s %-5s %s  (pid %s, user %s, data %s)\n' postgres up "$PG_DSN" "$pid" \
            "$(stat -c %U "/proc/$pid" 2>/dev/null || echo '?')" "$PG_DATA"
        return 0
    fi
    printf '%-9s %-5s %s\n' postgres down "$PG_DSN${pid:+ (pid $pid alive but not ready)}"
    return 1
}

# --- Azurite -------------------------------------------------------------------------------------------------

az_ports_open() {
    port_open "$AZ_HOST" "$AZ_BLOB_PORT" && port_open "$AZ_HOST" "$AZ_QUEUE_PORT" \
        && port_open "$AZ_HOST" "$AZ_TABLE_PORT"
}

az_start() {
    local pid p i
    if pid="$(pidfile_alive "$AZ_PID" "$AZ_BIN ")"; then
        for ((i = 0; i < START_TIMEOUT * 4; i++)); do
            az_ports_open && { log "azurite: already running (pid $pid) http://$AZ_HOST:$AZ_BLOB_PORT"; return 0; }
            sleep 0.25
        done
        err "azurite: pid $pid is alive but not listening on $AZ_HOST:$AZ_BLOB_PORT-$AZ_TABLE_PORT (log: $AZ_LOG)"
        return 1
    fi
    rm -f "$AZ_PID"
    [[ -x "$AZ_BIN" ]] || { err "azurite: $AZ_BIN missing. Run scripts/bootstrap.sh first."; return 1; }
    for p in "$AZ_BLOB_PORT" "$AZ_QUEUE_PORT" "$AZ_TABLE_PORT"; do
        if port_open "$AZ_HOST" "$p"; then
            err "$(port_taken_msg "$p" azurite)"
            return 1
        fi
    done
    mkdir -p "$AZ_DATA"
    log "azurite: starting (data $AZ_DATA)"
    spawn_detached "$AZ_PID" "$AZ_LOG" "$AZ_BIN" \
        --blobHost "$AZ_HOST" --blobPort "$AZ_BLOB_PORT" \
        --queueHost "$AZ_HOST" --queuePort "$AZ_QUEUE_PORT" \
        --tableHost "$AZ_HOST" --tablePort "$AZ_TABLE_PORT" \
        --location "$AZ_DATA" --disableTelemetry --skipApiVersionCheck --silent \
        || { tail_log "$AZ_LOG"; err "azurite: failed to launch"; return 1; }
    pid="$(head -n 1 "$AZ_PID")"
    for ((i = 0; i < START_TIMEOUT * 4; i++)); do
        if az_ports_open; then
            log "azurite: up (pid $pid) blob http://$AZ_HOST:$AZ_BLOB_PORT queue :$AZ_QUEUE_PORT" \
                "table :$AZ_TABLE_PORT  log: $AZ_LOG"
            return 0
        fi
        pid_alive "$pid" || break
        sleep 0.25
    done
    tail_log "$AZ_LOG"
    if pid_alive "$pid"; then
        stop_pid "$pid" azurite || true
    fi
    rm -f "$AZ_PID"
    err "azurite: did not come up on $AZ_HOST:$AZ_BLOB_PORT (log: $AZ_LOG)"
    return 1
}

az_stop() {
    local pid
    if ! pid="$(pidfile_alive "$AZ_PID" "$AZ_BIN ")"; then
        rm -f "$AZ_PID"
        log "azurite: not running"
        return 0
    fi
    log "azurite: stopping (pid $pid)"
    stop_pid "$pid" azurite || { err "azurite: pid $pid would not die"; return 1; }
    rm -f "$AZ_PID"
}

az_status() {
    local pid
    if pid="$(pidfile_alive "$AZ_PID" "$AZ_BIN ")" && port_open "$AZ_HOST" "$AZ_BLOB_PORT"; then
        printf '%-9s %-5s %s  (pid %s, queue :%s, table :%s)\n' azurite up "http://$AZ_HOST:$AZ_BLOB_PORT" \
            "$pid" "$AZ_QUEUE_PORT" "$AZ_TABLE_PORT"
        return 0
    fi
    printf '%-9s %-5s %s\n' azurite down "http://$AZ_HOST:$AZ_BLOB_PORT${pid:+ (pid $pid alive but not listening)}"
    return 1
}

# --- API simulators (QuickBooks, monday.com) ---------------------------------------------------------------
# One set of functions for every simulator: name, Python module, port. Each serves GET /_sim/health.

sim_vars() {  # sim_vars NAME -> sets SIM_MODULE SIM_PORT SIM_URL SIM_MAIN SIM_PID SIM_LOG SIM_ARGS
    case "$1" in
        qbo-sim) SIM_MODULE=sandbox.quickbooks; SIM_PORT="$QBO_PORT" ;;
        monday-sim) SIM_MODULE=sandbox.monday; SIM_PORT="$MONDAY_PORT" ;;
        *) die "unknown simulator $1" ;;
    esac
    SIM_URL="http://$SIM_HOST:$SIM_PORT"
    SIM_MAIN="$ROOT/${SIM_MODULE//.//}/__main__.py"
    SIM_PID="$RUN/$1.pid"
    SIM_LOG="$RUN/$1.log"
    # The simulators' clocks start at the real time: QuickBooks change data capture reaches back 30 days
    # from "now"; the demo data (fixed timestamps) stays identical whatever the day.
    SIM_ARGS=(--clock-start "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)")
}

sim_start() {
    local name="$1" pid i
    sim_vars "$name"
    if [[ ! -f "$SIM_MAIN" ]]; then
        log "$name: skipped: ${SIM_MAIN#"$ROOT"/} is missing"
        return 0
    fi
    if [[ "${BIZ_SKIP_SIMS:-}" == 1 ]]; then
        log "$name: skipped (BIZ_SKIP_SIMS=1)"
        return 0
    fi
    if pid="$(pidfile_alive "$SIM_PID" "$VENV_PY -m $SIM_MODULE ")"; then
        for ((i = 0; i < START_TIMEOUT * 4; i++)); do
            http_ok "$SIM_URL/_sim/health" && { log "$name: already running (pid $pid) $SIM_URL"; return 0; }
            sleep 0.25
        done
        err "$name: pid $pid is alive but $SIM_URL/_sim/health does not answer (log: $SIM_LOG)"
        return 1
    fi
    rm -f "$SIM_PID"
    [[ -x "$VENV_PY" ]] || { err "$name: $VENV_PY missing. Run scripts/bootstrap.sh first."; return 1; }
    if port_open "$SIM_HOST" "$SIM_PORT"; then
        err "$(port_taken_msg "$SIM_PORT" "$name")"
        return 1
    fi
    log "$name: starting"
    spawn_detached "$SIM_PID" "$SIM_LOG" "$VENV_PY" -m "$SIM_MODULE" --host "$SIM_HOST" --port "$SIM_PORT" \
        "${SIM_ARGS[@]}" || { tail_log "$SIM_LOG"; err "$name: failed to launch"; return 1; }
    pid="$(head -n 1 "$SIM_PID")"
    for ((i = 0; i < START_TIMEOUT * 4; i++)); do
        if http_ok "$SIM_URL/_sim/health"; then
            log "$name: up (pid $pid) $SIM_URL  log: $SIM_LOG"
            return 0
        fi
        pid_alive "$pid" || break
        sleep 0.25
    done
    tail_log "$SIM_LOG"
    if pid_alive "$pid"; then
        stop_pid "$pid" "$name" || true
    fi
    rm -f "$SIM_PID"
    err "$name: $SIM_URL/_sim/health did not answer (log: $SIM_LOG)"
    return 1
}

sim_stop() {
    local name="$1" pid
    sim_vars "$name"
    if ! pid="$(pidfile_alive "$SIM_PID" "$VENV_PY -m $SIM_MODULE ")"; then
        rm -f "$SIM_PID"
        log "$name: not running"
        return 0
    fi
    log "$name: stopping (pid $pid)"
    stop_pid "$pid" "$name" || { err "$name: pid $pid would not die"; return 1; }
    rm -f "$SIM_PID"
}

sim_status() {
    local name="$1" pid
    sim_vars "$name"
    if [[ ! -f "$SIM_MAIN" ]]; then
        printf '%-10s %-5s %s\n' "$name" n/a "(${SIM_MAIN#"$ROOT"/} missing; not started)"
        return 0
    fi
    if pid="$(pidfile_alive "$SIM_PID" "$VENV_PY -m $SIM_MODULE ")" && http_ok "$SIM_URL/_sim/health"; then
        printf '%-10s %-5s %s  (pid %s)\n' "$name" up "$SIM_URL" "$pid"
        return 0
    fi
    if [[ "${BIZ_SKIP_SIMS:-}" == 1 && -z "$pid" ]]; then
        printf '%-10s %-5s %s\n' "$name" n/a "(BIZ_SKIP_SIMS=1; not started)"
        return 0
    fi
    printf '%-10s %-5s %s\n' "$name" down "$SIM_URL${pid:+ (pid $pid alive but health check fails)}"
    return 1
}

SIMULATORS=(qbo-sim monday-sim)

# --- commands ------------------------------------------------------------------------------------------------

SERVICES=(postgres azurite "${SIMULATORS[@]}")

wanted() {  # $1 service, then the names the command was given: true when it was named, or none was
    local name="$1" given
    shift
    (($# == 0)) && return 0
    for given in "$@"; do [[ "$given" == "$name" ]] && return 0; done
    return 1
}

check_names() {
    local given
    for given in "$@"; do
        wanted "$given" "${SERVICES[@]}" || die "unknown service '$given' (expected: ${SERVICES[*]})"
    done
}

cmd_start() {
    check_names "$@"
    take_lock
    local rc=0
    # Subshells: a fatal error (die) in one service still lets the others start.
    if wanted postgres "$@"; then (pg_start) || rc=1; fi
    if wanted azurite "$@"; then (az_start) || rc=1; fi
    local sim
    for sim in "${SIMULATORS[@]}"; do
        if wanted "$sim" "$@"; then (sim_start "$sim") || rc=1; fi
    done
    if ((rc != 0)); then
        err "some services failed to start (see above); 'scripts/services.sh status' shows what runs"
    fi
    return "$rc"
}

cmd_stop() {
    check_names "$@"
    take_lock
    local rc=0
    local sim
    for sim in "${SIMULATORS[@]}"; do
        if wanted "$sim" "$@"; then sim_stop "$sim" || rc=1; fi
    done
    if wanted azurite "$@"; then az_stop || rc=1; fi
    if wanted postgres "$@"; then pg_stop || rc=1; fi
    return "$rc"
}

cmd_status() {
    local rc=0
    pg_status || rc=3
    az_status || rc=3
    local sim
    for sim in "${SIMULATORS[@]}"; do sim_status "$sim" || rc=3; done
    return "$rc"
}

cmd_env() {
    # The app logs in as the app role; migrations (python -m plugins.migrate_cli) as the owner; the metric reader as
    # Grafana's role; BIZ_PG_DSN_ADMIN (the superuser) is for test and benchmark set-up only.
    printf "export BIZ_PG_DSN='%s'\n" "$(pg_role_dsn "$PG_APP_ROLE")"
    printf "export BIZ_PG_OWNER_DSN='%s'\n" "$(pg_role_dsn "$PG_OWNER_ROLE")"
    printf "export BIZ_PG_READER_DSN='%s'\n" "$(pg_role_dsn "$PG_GRAFANA_ROLE")"
    printf "export BIZ_PG_DSN_ADMIN='%s'\n" "$PG_DSN"
    printf "export BIZ_LOCAL_DEV='true'\n"
    printf "export AzureWebJobsStorage='%s'\n" "$AZ_CONN"
    printf "export QBO_BASE_URL='%s'\n" "http://$SIM_HOST:$QBO_PORT"
    printf "export MONDAY_BASE_URL='%s'\n" "http://$SIM_HOST:$MONDAY_PORT"
    # The simulators answer on loopback over http: local development allows such source URLs (shared/core/egress.py).
    printf "export BIZ_ALLOW_LOOPBACK_SOURCES='true'\n"
}

cmd_restart_sims() {
    take_lock
    local sim rc=0
    for sim in "${SIMULATORS[@]}"; do sim_stop "$sim"; (sim_start "$sim") || rc=1; done
    return "$rc"
}

cmd_clean_data() {
    cmd_stop || die "could not stop the services; not deleting data"
    local fb targets=()
    fb="$(pg_fallback_base)"
    targets=("$LOCAL/pg" "$AZ_DATA")
    if [[ -d "$fb" && ! -L "$fb" ]]; then targets+=("$fb"); fi
    log "clean-data: deleting PostgreSQL cluster and Azurite data: ${targets[*]}"
    rm -rf -- "${targets[@]}"
    log "clean-data: done (next 'start' creates a fresh cluster and database)"
}

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    restart-sims) cmd_restart_sims ;;
    clean-data) cmd_clean_data ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
