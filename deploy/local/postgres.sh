#!/usr/bin/env bash
# Local PostgreSQL instance for development and tests, without Docker: our own
# cluster in $PG_DATA_DIR, listening on 127.0.0.1:$PG_PORT (the Debian package's
# own "main" cluster, if any, is irrelevant and left alone).
#
# Usage: deploy/local/postgres.sh start|stop|status|restart|url
#
# Environment (defaults):
#   TESSERA_LOCAL  <repo root>/.local
#   PG_PORT        55432
#   PG_DATA_DIR    $TESSERA_LOCAL/pg-$PG_PORT
#   PG_BIN_DIR     found: pg_config --bindir, else newest /usr/lib/postgresql/*/bin;
#                  when none exists, Debian's `postgresql` package is installed (root).
#   PG_OS_USER     OS user running the server when we are root: `postgres` if it
#                  exists, else a system user `tessera-pg` (created on demand).
#
# Connection URL: postgresql://postgres@127.0.0.1:$PG_PORT/postgres (trust auth).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

TESSERA_LOCAL="${TESSERA_LOCAL:-$REPO_ROOT/.local}"
PG_PORT="${PG_PORT:-55432}"
PG_DATA_DIR="${PG_DATA_DIR:-$TESSERA_LOCAL/pg-$PG_PORT}"
PG_HOST=127.0.0.1
# Absolute paths: the server runs with another cwd and user.
PG_DATA_DIR="$(realpath -m "$PG_DATA_DIR")"
PG_URL="postgresql://postgres@$PG_HOST:$PG_PORT/postgres"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- binaries and OS user --------------------------------------------------

has_server_bins() { [[ -n "$1" && -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]; }

find_bin_dir() {
    local dir
    if [[ -n "${PG_BIN_DIR:-}" ]]; then
        has_server_bins "$PG_BIN_DIR" && { printf '%s' "$PG_BIN_DIR"; return 0; }
        die "PG_BIN_DIR=$PG_BIN_DIR has no initdb/pg_ctl/postgres"
    fi
    # Debian's /usr/bin/pg_config (libpq-dev) reports /usr/bin, which has no
    # initdb, so check the binaries rather than trusting the answer.
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        has_server_bins "$dir" && { printf '%s' "$dir"; return 0; }
    fi
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
    has_server_bins "$dir" && { printf '%s' "$dir"; return 0; }
    return 1
}

install_postgres() {
    ((EUID == 0)) || die "PostgreSQL server binaries not found; install them (Debian: sudo apt-get install -y postgresql) or set PG_BIN_DIR"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL server binaries not found and apt-get is not available; set PG_BIN_DIR"
    log "PostgreSQL server binaries not found; installing Debian's postgresql package ..."
    # The package may create and start its own "main" cluster on 5432; we run
    # our own cluster on $PG_PORT and never use it.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        postgresql >&2
}

resolve_bin_dir() {
    if ! BIN="$(find_bin_dir)"; then
        install_postgres
        BIN="$(find_bin_dir)" || die "PostgreSQL installed but no server binaries found under /usr/lib/postgresql"
    fi
}

# Postgres refuses to run as root: as root, run the server as an unprivileged user.
resolve_os_user() {
    if ((EUID != 0)); then
        PG_OS_USER="$(id -un)"
        AS_USER=()
        return 0
    fi
    if [[ -z "${PG_OS_USER:-}" ]]; then
        if id -u postgres >/dev/null 2>&1; then
            PG_OS_USER=postgres
        else
            PG_OS_USER=tessera-pg
        fi
    fi
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        log "creating system user $PG_OS_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
    AS_USER=(runuser -u "$PG_OS_USER" --)
}

pg_ready() {
    local isready="${BIN:-}/pg_isready"
    [[ -x "$isready" ]] || isready="$(command -v pg_isready || true)"
    if [[ -n "$isready" ]]; then
        "$isready" -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
    else # no client tools at all: a TCP check is the best we can do
        timeout 2 bash -c "exec 3<>/dev/tcp/$PG_HOST/$PG_PORT" 2>/dev/null
    fi
}

# Unix sockets are limited to ~107 bytes of path; fall back to a short dir.
socket_dir() {
    local dir="$PG_DATA_DIR"
    if ((${#dir} + ${#PG_PORT} + 10 > 100)); then
        dir="/tmp/tessera-pg-$PG_PORT"
        mkdir -p "$dir"
        chown "$PG_OS_USER" "$dir" 2>/dev/null || true
        chmod 0700 "$dir"
    fi
    printf '%s' "$dir"
}

# --- start -----------------------------------------------------------------

init_cluster() {
    if [[ -f "$PG_DATA_DIR/PG_VERSION" ]]; then
        local have want
        have="$(cat "$PG_DATA_DIR/PG_VERSION")"
        want="$("$BIN/postgres" --version | awk '{print $3}' | cut -d. -f1)"
        [[ "$have" == "$want" ]] \
            || die "$PG_DATA_DIR holds a PostgreSQL $have cluster but $BIN is PostgreSQL $want; remove the dir or set PG_BIN_DIR"
        return 0
    fi
    # A non-empty dir without PG_VERSION is a failed initdb: start over.
    if [[ -d "$PG_DATA_DIR" ]] && [[ -n "$(ls -A "$PG_DATA_DIR" 2>/dev/null)" ]]; then
        log "removing incomplete cluster dir $PG_DATA_DIR"
        rm -rf "$PG_DATA_DIR"
    fi
    mkdir -p "$PG_DATA_DIR"
    chmod 0700 "$PG_DATA_DIR"
    if ((EUID == 0)); then chown "$PG_OS_USER:" "$PG_DATA_DIR"; fi
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    log "initdb $PG_DATA_DIR (PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'), locale $locale)"
    if ! "${AS_USER[@]}" "$BIN/initdb" -D "$PG_DATA_DIR" -U postgres --auth=trust \
        -E UTF8 --locale="$locale" >"$PG_DATA_DIR.initdb.log" 2>&1; then
        cat "$PG_DATA_DIR.initdb.log" >&2
        rm -rf "$PG_DATA_DIR"
        die "initdb failed"
    fi
    rm -f "$PG_DATA_DIR.initdb.log"
}

cmd_start() {
    resolve_bin_dir
    if pg_ready; then
        echo "postgres already running on $PG_PORT"
        echo "$PG_URL"
        return 0
    fi
    resolve_os_user
    mkdir -p "$(dirname "$PG_DATA_DIR")"
    if ((EUID == 0)); then
        # The server user must be able to reach the data dir.
        runuser -u "$PG_OS_USER" -- test -x "$(dirname "$PG_DATA_DIR")" \
            || die "user $PG_OS_USER cannot enter $(dirname "$PG_DATA_DIR") (permissions of a parent dir); set PG_DATA_DIR elsewhere"
    fi
    init_cluster
    if ((EUID == 0)) && [[ "$(stat -c %U "$PG_DATA_DIR")" != "$PG_OS_USER" ]]; then
        chown -R "$PG_OS_USER:" "$PG_DATA_DIR"
    fi
    local sockdir log_file="$PG_DATA_DIR/postgres.log"
    sockdir="$(socket_dir)"
    # fsync/synchronous_commit/full_page_writes off: this instance is for
    # development and tests only; a crash may lose or corrupt data, which is
    # fine for throwaway data and makes tests much faster.
    "${AS_USER[@]}" "$BIN/pg_ctl" -D "$PG_DATA_DIR" -w -t 60 -l "$log_file" \
        -o "-p $PG_PORT -k $sockdir -c listen_addresses=$PG_HOST -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || {
        tail -n 40 "$log_file" >&2 || true
        die "pg_ctl start failed (log: $log_file)"
    }
    local i
    for ((i = 0; i < 100; i++)); do
        pg_ready && break
        sleep 0.1
    done
    pg_ready || die "postgres started but does not answer on $PG_HOST:$PG_PORT (log: $log_file)"
    echo "postgres started on $PG_HOST:$PG_PORT (data $PG_DATA_DIR)"
    echo "$PG_URL"
}

# --- stop / status ---------------------------------------------------------

cmd_stop() {
    if [[ ! -f "$PG_DATA_DIR/postmaster.pid" ]]; then
        echo "postgres on $PG_PORT not running"
        return 0
    fi
    resolve_bin_dir
    resolve_os_user
    if "${AS_USER[@]}" "$BIN/pg_ctl" -D "$PG_DATA_DIR" status >/dev/null 2>&1; then
        "${AS_USER[@]}" "$BIN/pg_ctl" -D "$PG_DATA_DIR" -m fast -w -t 60 stop >/dev/null
        echo "postgres on $PG_PORT stopped"
    else
        echo "postgres on $PG_PORT not running"
    fi
}

cmd_status() {
    BIN="$(find_bin_dir || true)"
    if pg_ready; then
        echo "running"
        return 0
    fi
    echo "not running"
    return 1
}

usage() {
    sed -n '2,/^set -euo/p' "$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# runuser'd tools must not inherit a cwd the server user cannot read.
cd /

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    url) echo "$PG_URL" ;;
    *) usage ;;
esac
