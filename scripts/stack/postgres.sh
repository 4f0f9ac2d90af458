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
    ! port_open "$PG_PORT" || die_port_taken PostgreSQL "$PG_PORT"
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
SELECT 'CREATE DATABASE handoff OWNER handoff'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'handoff')\gexec
SQL
}

pg_up() {
    local pid
    pg_prepare_dirs
    pg_init
    pg_write_config
    if pid=$(pg_pid); then
        wait_until 60 pg_ready || { log_tail "$PG_LOG"; die "PostgreSQL (pid $pid) is not answering"; }
        say "PostgreSQL already running (pid $pid)"
    else
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
