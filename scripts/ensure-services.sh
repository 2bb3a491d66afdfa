#!/usr/bin/env bash
# Make sure the local services the test suite talks to are up:
#   PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres)
#   Redis      on 127.0.0.1:6379
#
# Idempotent: does nothing when both already answer. Starts whichever is down,
# installing it from Debian's packages first if it is missing altogether, then
# waits for both. Exits non-zero, loudly, if either cannot be brought up.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_SECONDS=${LATCHKEY_SERVICE_WAIT_SECONDS:-30}

log() { printf '[ensure-services] %s\n' "$*"; }
die() {
    printf '[ensure-services] ERROR: %s\n' "$*" >&2
    exit 1
}

# Run a command as root (directly, or through password-less sudo).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or password-less sudo) to run: $*"
    fi
}

# --------------------------------------------------------------------------
# Liveness checks
# --------------------------------------------------------------------------
pg_alive() {
    command -v pg_isready >/dev/null 2>&1 &&
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1
}

redis_alive() {
    command -v redis-cli >/dev/null 2>&1 &&
        [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

# wait_for NAME CHECK_FUNCTION
wait_for() {
    local name=$1 check=$2 i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        if "$check"; then
            log "$name is up (after ${i}s)"
            return 0
        fi
        sleep 1
    done
    "$check"
}

# --------------------------------------------------------------------------
# Installation (only on a machine that lacks the packages)
# --------------------------------------------------------------------------
pg_cluster_dirs() {
    # Prints the configured cluster versions, one per line (e.g. "15").
    local d
    for d in /etc/postgresql/*/main; do
        [[ -f "$d/postgresql.conf" ]] && basename "$(dirname "$d")"
    done
    return 0
}

pg_installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 &&
        command -v pg_isready >/dev/null 2>&1 &&
        [[ -n "$(pg_cluster_dirs)" ]]
}

redis_installed() {
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

PG_FRESHLY_INSTALLED=0
install_missing() {
    local pkgs=()
    if ! pg_alive && ! pg_installed; then pkgs+=(postgresql); fi
    if ! redis_alive && ! redis_installed; then pkgs+=(redis-server); fi
    [[ ${#pkgs[@]} -eq 0 ]] && return 0

    log "installing missing packages: ${pkgs[*]}"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; cannot install ${pkgs[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
        die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=120 --no-install-recommends "${pkgs[@]}" ||
        die "apt-get install ${pkgs[*]} failed"

    if [[ " ${pkgs[*]} " == *" postgresql "* ]]; then
        PG_FRESHLY_INSTALLED=1
        if [[ -z "$(pg_cluster_dirs)" ]]; then
            local ver
            ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1 || true)
            [[ -n "$ver" ]] || die "postgresql installed but no server version under /usr/lib/postgresql"
            log "creating PostgreSQL cluster $ver/main"
            as_root pg_createcluster "$ver" main
        fi
    fi
}

# A freshly installed Debian cluster uses peer/scram auth; the tests expect
# trust auth for user postgres over TCP on loopback (as on the CI image).
configure_fresh_pg() {
    [[ $PG_FRESHLY_INSTALLED -eq 1 ]] || return 0
    local ver hba
    ver=$(pg_version)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if [[ -f "$hba" ]] && ! grep -q 'latchkey-ci' "$hba"; then
        log "configuring trust auth on loopback in $hba"
        as_root sed -i '1i # latchkey-ci: trust on loopback for local tests\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
        sleep 1
    fi
    if command -v psql >/dev/null 2>&1; then
        if ! psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc \
            "select 1 from pg_database where datname = 'test'" | grep -q 1; then
            log "creating database 'test'"
            psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc 'create database test' ||
                die "could not create database 'test'"
        fi
    fi
}

# The one configured cluster version (the newest if, unusually, several).
pg_version() {
    local v
    v=$(pg_cluster_dirs | sort -V | tail -n 1)
    [[ -n "$v" ]] || die "no PostgreSQL cluster found under /etc/postgresql"
    printf '%s\n' "$v"
}

# --------------------------------------------------------------------------
# Start
# --------------------------------------------------------------------------
start_pg() {
    local ver
    ver=$(pg_version)
    log "PostgreSQL is down; starting cluster $ver/main"
    # Exits non-zero if the cluster is already (half-)running; the wait below
    # decides whether we are fine.
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
        log "pg_ctlcluster start returned non-zero (may already be starting); waiting anyway"
}

start_redis() {
    log "Redis is down; starting redis-server"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
        log "redis-server returned non-zero; waiting anyway"
}

pg_diagnostics() {
    {
        echo "---- pg_lsclusters ----"
        pg_lsclusters 2>&1 || true
        local f
        for f in /var/log/postgresql/postgresql-*-main.log; do
            [[ -f "$f" ]] || continue
            echo "---- tail $f ----"
            tail -n 30 "$f" 2>&1 || true
        done
    } >&2
}

redis_diagnostics() {
    {
        echo "---- redis-cli ping ----"
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>&1 || true
        if [[ -f /var/log/redis/ci.log ]]; then
            echo "---- tail /var/log/redis/ci.log ----"
            tail -n 30 /var/log/redis/ci.log 2>&1 || true
        fi
    } >&2
}

# Up is not enough: the tests connect as postgres over TCP without a password.
check_pg_login() {
    command -v psql >/dev/null 2>&1 || return 0
    PGCONNECT_TIMEOUT=5 psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' \
        >/dev/null ||
        die "PostgreSQL is up but 'psql -h $PG_HOST -p $PG_PORT -U postgres' cannot log in (pg_hba.conf needs trust on loopback)"
}

# --------------------------------------------------------------------------
main() {
    if pg_alive && redis_alive; then
        check_pg_login
        log "PostgreSQL ($PG_HOST:$PG_PORT) and Redis ($REDIS_HOST:$REDIS_PORT) are up"
        return 0
    fi

    install_missing

    local pg_started=0 redis_started=0
    if ! pg_alive; then
        start_pg
        pg_started=1
    fi
    if ! redis_alive; then
        start_redis
        redis_started=1
    fi

    local failed=0
    if [[ $pg_started -eq 1 ]] && ! wait_for PostgreSQL pg_alive; then
        printf '[ensure-services] ERROR: PostgreSQL not accepting connections on %s:%s after %ss\n' \
            "$PG_HOST" "$PG_PORT" "$WAIT_SECONDS" >&2
        pg_diagnostics
        failed=1
    fi
    if [[ $redis_started -eq 1 ]] && ! wait_for Redis redis_alive; then
        printf '[ensure-services] ERROR: Redis not answering PING on %s:%s after %ss\n' \
            "$REDIS_HOST" "$REDIS_PORT" "$WAIT_SECONDS" >&2
        redis_diagnostics
        failed=1
    fi
    [[ $failed -eq 0 ]] || die "required services are not available"

    configure_fresh_pg
    check_pg_login

    log "PostgreSQL ($PG_HOST:$PG_PORT) and Redis ($REDIS_HOST:$REDIS_PORT) are up"
}

main "$@"
