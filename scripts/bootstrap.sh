#!/usr/bin/env bash
# Bizmetrics developer/CI bootstrap. Idempotent; a run with nothing to do takes well under a second.
#
#   1. Python virtualenv in .venv (python3.11, or python3 >= 3.11); `pip install -r requirements-dev.txt`
#      only when a requirements*.txt file changed (hash stamp kept in .venv).
#   2. PostgreSQL server binaries (pg_ctl, initdb, ...) under /usr/lib/postgresql/<ver>/bin;
#      as root they are installed from Debian's `postgresql` package when missing.
#   3. Azurite (Azure Storage emulator), pinned, installed project-locally under .local/node.
#
# Usage: scripts/bootstrap.sh            (no arguments; environment knobs below are for testing)
#   BIZ_PG_LIBDIR   where to look for <ver>/bin/pg_ctl (default /usr/lib/postgresql)
#   BIZ_PYTHON      interpreter to create .venv with (default: python3.11, else python3 >= 3.11)
set -euo pipefail

AZURITE_VERSION="3.36.0"   # pinned: 3.37.0 does not install from our registry
PG_LIBDIR="${BIZ_PG_LIBDIR:-/usr/lib/postgresql}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
VENV="$ROOT/.venv"
LOCAL="$ROOT/.local"
NODE_PREFIX="$LOCAL/node"
STAMP="$VENV/.bizmetrics-requirements.sha256"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$LOCAL"
# One bootstrap at a time per checkout (e.g. `make -j`); fd 9 is closed for everything we spawn.
exec 9>"$LOCAL/.bootstrap.lock"
flock -w 900 9 || die "another bootstrap is still running (lock $LOCAL/.bootstrap.lock)"

# ---------------------------------------------------------------------------------------------------------
# 1. Python virtualenv
# ---------------------------------------------------------------------------------------------------------
py_ok() {  # $1 = interpreter; true when it runs and is >= 3.11
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1 9>&-
}

find_python() {
    local c
    for c in ${BIZ_PYTHON:-} python3.11 python3 python3.12 python3.13; do
        if command -v "$c" >/dev/null 2>&1 && py_ok "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && py_ok "$VENV/bin/python" \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1 9>&-; then
        return 0
    fi
    local py
    py="$(find_python)" || die "no Python >= 3.11 found (tried ${BIZ_PYTHON:+$BIZ_PYTHON, }python3.11, python3," \
        "python3.12, python3.13). Install one, e.g. as root: apt-get install -y python3 python3-venv"
    if [[ -e "$VENV" ]]; then
        log "recreating broken virtualenv $VENV with $py"
    else
        log "creating virtualenv $VENV with $py ($("$py" -V 2>&1))"
    fi
    if ! "$py" -m venv --clear "$VENV" 9>&-; then
        if [[ $EUID -eq 0 && "$py" == /usr/bin/* ]] && command -v apt-get >/dev/null; then
            log "python venv module unusable; installing Debian's python3-venv"
            apt-get update 9>&- || die "apt-get update failed"
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv </dev/null 9>&- \
                || die "apt-get install python3-venv failed"
            "$py" -m venv --clear "$VENV" 9>&- || die "could not create $VENV with $py"
        else
            die "could not create $VENV with $py (on Debian: apt-get install python3-venv)"
        fi
    fi
    rm -f "$STAMP"
}

requirements_hash() {
    local files=()
    shopt -s nullglob
    files=(requirements*.txt)
    shopt -u nullglob
    [[ ${#files[@]} -gt 0 ]] || die "no requirements*.txt in $ROOT"
    { "$VENV/bin/python" -V 2>&1; sha256sum -- "${files[@]}"; } | sha256sum | cut -d' ' -f1
}

ensure_python_deps() {
    [[ -f requirements-dev.txt ]] || die "requirements-dev.txt missing in $ROOT"
    local want have=""
    want="$(requirements_hash)"
    [[ -f "$STAMP" ]] && have="$(cat "$STAMP")"
    if [[ "$want" == "$have" ]]; then
        log "python deps up to date (.venv, $("$VENV/bin/python" -V 2>&1))"
        return 0
    fi
    log "installing python deps: pip install -r requirements-dev.txt"
    "$VENV/bin/python" -m pip install --progress-bar off -r requirements-dev.txt 9>&- || die "pip install -r requirements-dev.txt failed"
    printf '%s\n' "$want" >"$STAMP"
}

# ---------------------------------------------------------------------------------------------------------
# 2. PostgreSQL server binaries
# ---------------------------------------------------------------------------------------------------------
pg_bindir() {  # newest <PG_LIBDIR>/<ver>/bin that has pg_ctl, initdb and postgres
    local d best=""
    while IFS= read -r d; do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/postgres" ]] && best="$d"
    done < <(find "$PG_LIBDIR" -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V)
    [[ -n "$best" ]] && printf '%s\n' "$best"
}

ensure_postgres() {
    local bin
    if bin="$(pg_bindir)"; then
        log "postgresql server binaries: $bin"
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        die "PostgreSQL server binaries not found (no $PG_LIBDIR/*/bin/pg_ctl). Install them as root, e.g.:
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
then re-run scripts/bootstrap.sh"
    fi
    command -v apt-get >/dev/null || die "PostgreSQL server binaries not found and apt-get is unavailable;" \
        "install the PostgreSQL server (>= 13) so that $PG_LIBDIR/<ver>/bin/pg_ctl exists"
    log "PostgreSQL server binaries not found; installing Debian's postgresql package"
    apt-get update 9>&- || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql </dev/null 9>&- \
        || die "apt-get install postgresql failed"
    bin="$(pg_bindir)" || die "postgresql installed but no $PG_LIBDIR/*/bin/pg_ctl found"
    log "postgresql server binaries: $bin"
}

# ---------------------------------------------------------------------------------------------------------
# 3. Azurite (npm, project-local, pinned)
# ---------------------------------------------------------------------------------------------------------
azurite_installed_version() {
    local pj="$NODE_PREFIX/node_modules/azurite/package.json"
    [[ -f "$pj" && -x "$NODE_PREFIX/node_modules/.bin/azurite" ]] || return 1
    node -e 'process.stdout.write(String(require(process.argv[1]).version))' "$pj" 2>/dev/null 9>&-
}

ensure_azurite() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        die "Node.js (>= 20) and npm are required for Azurite; install them (e.g. apt-get install nodejs npm)"
    fi
    local have
    have="$(azurite_installed_version || true)"
    if [[ "$have" == "$AZURITE_VERSION" ]]; then
        log "azurite $AZURITE_VERSION present (.local/node)"
        return 0
    fi
    log "installing azurite@$AZURITE_VERSION into .local/node${have:+ (found $have)}"
    mkdir -p "$NODE_PREFIX"
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --no-update-notifier --save-exact \
        "azurite@$AZURITE_VERSION" </dev/null 9>&- || die "npm install azurite@$AZURITE_VERSION failed"
    have="$(azurite_installed_version || true)"
    [[ "$have" == "$AZURITE_VERSION" ]] || die "azurite install did not produce version $AZURITE_VERSION (got '${have:-none}')"
}

start_s=$SECONDS
ensure_postgres   # first: as non-root it may stop us with instructions before any long download
ensure_venv
ensure_python_deps
ensure_azurite
log "done in $((SECONDS - start_s))s. Next: scripts/services.sh start"
