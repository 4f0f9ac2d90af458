# shellcheck shell=bash
# The three Handoff services as background processes: `python -m handoff_<service>`, each on
# its own port, pid in .run/pids/<name>.pid, log in .run/logs/<name>.log. Sourced after lib.sh.

ADMIN_TOKEN_FILE="$RUN/admin-token"
SERVICE_READY_TIMEOUT=${SERVICE_READY_TIMEOUT:-60}

# Generated once and kept, so that tokens in stack.env stay valid across restarts.
admin_token() {
    if [[ ! -s "$ADMIN_TOKEN_FILE" ]]; then
        (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$ADMIN_TOKEN_FILE")
    fi
    printf '%s\n' "$(<"$ADMIN_TOKEN_FILE")"
}

service_url() { printf 'http://127.0.0.1:%s\n' "$1"; }

# The settings every service gets (the same for all; each reads what it knows).
service_env() {
    printf '%s\n' \
        "HANDOFF_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" \
        "HANDOFF_DATABASE_URL=$DATABASE_URL" \
        "HANDOFF_ADMIN_TOKEN=$(admin_token)" \
        "HANDOFF_HTTP_HOST=127.0.0.1" \
        "HANDOFF_SNAPSHOT_INTERVAL=5s" \
        "HANDOFF_CALLBACK_ALLOW_PRIVATE=true" \
        "HANDOFF_LOG_LEVEL=info"
}

# The argv of `python -m MODULE ARGS...` in the services' environment, into SERVICE_ARGV.
service_argv() {
    local port=$1 settings
    shift
    mapfile -t settings < <(service_env)
    uv_argv
    SERVICE_ARGV=(env "${settings[@]}" "HANDOFF_HTTP_PORT=$port" "${UV[@]}" run --no-sync python -m "$@")
}

# Apply every service's migrations; any failure stops `up`.
services_migrate() {
    local entry name module port log
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name module port <<<"$entry"
        log="$LOGS/migrate-$name.log"
        say "migrating $name"
        service_argv "$port" "$module" migrate
        "${SERVICE_ARGV[@]}" >"$log" 2>&1 || { log_tail "$log"; die "migrations of $name failed"; }
    done
}

service_ready() {
    curl -fsS -o /dev/null --max-time 2 "$(service_url "$1")/readyz" 2>/dev/null
}

service_start() {
    local name=$1 module=$2 port=$3
    ! port_open "$port" || die_port_taken "$name" "$port"
    say "starting $name on $(service_url "$port")"
    service_argv "$port" "$module"
    start_detached "$name" "${SERVICE_ARGV[@]}"
}

# Wait for /readyz, failing early if the process died.
service_wait_ready() {
    local name=$1 port=$2 deadline=$((SECONDS + SERVICE_READY_TIMEOUT))
    until service_ready "$port"; do
        live_pid "$name" >/dev/null || { log_tail "$LOGS/$name.log"; die "$name exited during start-up"; }
        ((SECONDS < deadline)) ||
            { log_tail "$LOGS/$name.log"; die "$name not ready on $(service_url "$port") after ${SERVICE_READY_TIMEOUT}s"; }
        sleep 0.2
    done
    say "$name ready on $(service_url "$port")"
}

services_up() {
    local entry name module port pid
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name module port <<<"$entry"
        if pid=$(live_pid "$name"); then
            say "$name already running (pid $pid)"
        else
            service_start "$name" "$module" "$port"
        fi
    done
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name _ port <<<"$entry"
        service_wait_ready "$name" "$port"
    done
}

services_down() {
    local entry name
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name _ <<<"$entry"
        stop_named "$name" 30 &
    done
    wait
}

services_status() {
    local entry name port pid
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name _ port <<<"$entry"
        if ! pid=$(live_pid "$name"); then
            status_line "$name" stopped
        elif service_ready "$port"; then
            status_line "$name" ready "$pid" "$(service_url "$port")"
        else
            status_line "$name" "not ready" "$pid" "$(service_url "$port")"
        fi
    done
}
