# shellcheck shell=bash
# The stack's private PostgreSQL cluster: .run/pg/data, 127.0.0.1:$PG_PORT, run by the
# unprivileged `postgres` user when we are root (PostgreSQL refuses to run as root).
# Sourced after lib.sh.

PG_DIR="$RUN/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$LOGS/postgres.log"
PG_USER=postgres

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$dir" ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql: run scripts/stack/bootstrap.sh"
    printf '%s\n' "$dir"
}

# Run a PostgreSQL program as the cluster's owner: `postgres` when we are root, else ourselves.
as_pg_owner() {
    local program=$1
    shift
    if ((EUID == 0)); then
        runuser -u "$PG_USER" -- env "$STACK_MARK" "$(pg_bin)/$program" "$@" 9>&-
    else
        env "$STACK_MARK" "$(pg_bin)/$program" "$@" 9>&-
    fi
}

# The socket lives in .run/pg unless that path is too long for a Unix socket (107 bytes).
pg_socket_dir() {
    local socket="$PG_DIR/.s.PGSQL.$PG_PORT"
    if ((${#socket} < 100)); then
        printf '%s\n' "$PG_DIR"
    else
        printf '/tmp/handoff-pg-%s\n' "$(printf '%s' "$ROOT" | cksum | cut -d ' ' -f 1)"
    fi
}

# The postgres user must be able to walk down to .run/pg: give `others` traverse-only (x)
# permission on the ancestors that lack it (e.g. /root for a checkout under it).
pg_make_reachable() {
    ((EUID == 0)) || return 0
    local path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${RUN#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        [[ -d "$path" ]] || break
        if ! runuser -u "$PG_USER" -- test -x "$path"; then
            chmod o+x "$path"
            say "gave others traverse permission (o+x) on $path so that user $PG_USER reaches .run/pg"
        fi
    done
}

pg_prepare_dirs() {
    local socket_dir
    socket_dir=$(pg_socket_dir)
    mkdir -p "$PG_DIR" "$PG_DATA" "$socket_dir"
    touch "$PG_LOG"
    if ((EUID == 0)); then
        pg_make_reachable
        chown "$PG_USER:" "$PG_DIR" "$PG_DATA" "$socket_dir" "$PG_LOG"
    fi
    chmod 700 "$PG_DIR" "$PG_DATA" "$socket_dir"
}

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    say "initialising PostgreSQL cluster in $PG_DATA"
    as_pg_owner initdb --pgdata="$PG_DATA" --username=postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
        { log_tail "$PG_LOG"; die "initdb failed"; }
    printf "\ninclude_if_exists = 'handoff.conf'\n" >>"$PG_DATA/postgresql.conf"
}

# Our settings, rewritten on every start so that changing them here takes effect.
pg_write_config() {
    cat >"$PG_DATA/handoff.conf" <<EOF
# Written by scripts/stack/postgres.sh on every start; edits here are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$(pg_socket_dir)'
max_connections = 200
# bench/routing_latency.py splits latency at each routing transaction's commit (its timestamp).
track_commit_timestamp = on
# The server's log never quotes a lead's data: errors without DETAIL and CONTEXT (a JSON
# error's context quotes the document), and no parameter values.
log_error_verbosity = terse
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
EOF
    ((EUID != 0)) || chown "$PG_USER:" "$PG_DATA/handoff.conf"
}

pg_pid() {
    local pid
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
    pid=$(head -n 1 "$PG_DATA/postmaster.pid")
    # A stale file may name a pid that now belongs to someone else: check it is our postmaster.
    [[ "$pid" =~ ^[0-9]+$ && "$(proc_file "$pid" cmdline)" == *"$PG_DATA"* ]] && printf '%s\n' "$pid"
}

pg_ready() {
    "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres
}

pg_start() {
    need_free_port PostgreSQL "$PG_PORT"
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg_owner pg_ctl start --pgdata="$PG_DATA" --log="$PG_LOG" --wait --timeout=60 --silent ||
        { log_tail "$PG_LOG"; die "PostgreSQL did not start"; }
}

# The `handoff` role and database, created when missing.
pg_provision() {
    as_pg_owner psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 -h "$(pg_socket_dir)" -p "$PG_PORT" \
        -U postgres -d postgres >/dev/null <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'handoff') THEN
        CREATE ROLE handoff LOGIN PASSWORD 'handoff';
    END IF;
END
$$;
-- Fault tests give router processes a database of their own (tests/integration/isolated.py).
ALTER ROLE handoff CREATEDB;
SELECT 'CREATE DATABASE handoff OWNER handoff'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'handoff')\gexec
SQL
}

# What the postmaster says of itself in postmaster.pid (starting, stopping, ready, standby).
pg_pm_status() {
    sed -n 8p "$PG_DATA/postmaster.pid" 2>/dev/null | tr -d '[:space:]'
}

# Processes of this cluster still alive after their postmaster died (kill -9): backends exit
# once they notice, but while they hold the shared memory a new postmaster refuses to start.
pg_orphans() {
    local proc pid
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        [[ "$(cat 2>/dev/null <"$proc/comm")" == postgres ]] && is_ours "$pid" && printf '%s\n' "$pid"
    done
    return 0
}

no_pg_orphans() { [[ -z "$(pg_orphans)" ]]; }

# The pid postmaster.pid names, alive or not.
pg_recorded_pid() {
    local pid
    pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) && [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
}

# A postmaster killed with SIGKILL stays a zombie until its parent reaps it, and PostgreSQL
# refuses to start while the pid of its lock file exists at all.
pg_lock_released() {
    local pid
    pid=$(pg_recorded_pid) || return 0
    ! kill -0 "$pid" 2>/dev/null
}

# Answering, or gone: what a running postmaster is once it has finished starting or stopping.
pg_settled() { pg_ready || ! pg_pid >/dev/null; }

# A postmaster that is shutting down (SIGINT, SIGTERM, `pg_ctl stop`) answers no more and goes
# away: wait until it has, then start it again, rather than mistake it for a running one.
pg_up() {
    local pid orphans
    pg_prepare_dirs
    pg_init
    pg_write_config
    if pid=$(pg_pid); then
        if [[ "$(pg_pm_status)" == stopping ]]; then
            say "PostgreSQL (pid $pid) is shutting down: waiting for it to stop, then starting it"
            # A smart shutdown (SIGTERM) waits for every client to leave, which the services
            # never do by themselves: make it a fast one, as `make down` would.
            wait_until 10 pg_settled || pg_down
        fi
        wait_until 60 pg_settled || { log_tail "$PG_LOG"; die "PostgreSQL (pid $pid) is not answering"; }
    fi
    if pid=$(pg_pid); then
        say "PostgreSQL already running (pid $pid)"
    else
        if ! wait_until 15 no_pg_orphans; then
            mapfile -t orphans < <(pg_orphans)
            warn "PostgreSQL processes left by a dead postmaster: ${orphans[*]}: SIGKILL"
            kill -KILL "${orphans[@]}" 2>/dev/null || true
            wait_until 10 no_pg_orphans || die "PostgreSQL processes ${orphans[*]} do not exit"
        fi
        wait_until 30 pg_lock_released ||
            warn "pid $(pg_recorded_pid) of postmaster.pid is still alive: starting PostgreSQL anyway"
        pg_start
    fi
    pg_provision
}

pg_down() {
    local pid
    pid=$(pg_pid) || return 0
    say "stopping PostgreSQL (pid $pid)"
    as_pg_owner pg_ctl stop --pgdata="$PG_DATA" --mode=fast --wait --timeout=60 --silent ||
        { warn "pg_ctl stop failed: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
}

pg_status() {
    local pid
    if ! pid=$(pg_pid); then
        status_line postgres stopped "" ""
    elif pg_ready; then
        status_line postgres running "$pid" "127.0.0.1:$PG_PORT"
    else
        status_line postgres "not answering" "$pid" "127.0.0.1:$PG_PORT"
    fi
}
