# shellcheck shell=bash
# The three Handoff services as background processes: `python -m handoff_<service>`, each on
# its own port, pid in .run/pids/<name>.pid, log in .run/logs/<name>.log. Sourced after lib.sh.

ADMIN_TOKEN_FILE="$RUN/admin-token"
# A live process that is still starting gets this long: on a loaded 2-core machine imports alone
# have taken over 60 s; a process that dies is reported at once.
SERVICE_READY_TIMEOUT=${SERVICE_READY_TIMEOUT:-180}

# Generated once and kept, so that tokens in stack.env stay valid across restarts.
admin_token() {
    if [[ ! -s "$ADMIN_TOKEN_FILE" ]]; then
        (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$ADMIN_TOKEN_FILE")
    fi
    printf '%s\n' "$(<"$ADMIN_TOKEN_FILE")"
}

# A Fernet key (32 random bytes, URL-safe base64) that seals callback secrets, kept like the token.
callback_secrets_key() {
    local file="$RUN/callback-secrets-key"
    if [[ ! -s "$file" ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' >"$file")
    fi
    printf '%s\n' "$(<"$file")"
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
        "HANDOFF_RETENTION_INTERVAL=5s" \
        "HANDOFF_CALLBACK_ALLOWED_NETWORKS=127.0.0.0/8,::1/128" \
        "HANDOFF_CALLBACK_SECRETS_KEY=$(callback_secrets_key)" \
        "HANDOFF_CALLBACK_TIMEOUT=3s" \
        "HANDOFF_CALLBACK_RETRY_BASE=1s" \
        "HANDOFF_CALLBACK_RETRY_MAX_DELAY=20s" \
        "HANDOFF_CALLBACK_FAILURE_THRESHOLD=3" \
        "HANDOFF_CALLBACK_OPEN_FOR=2s" \
        "HANDOFF_CALLBACK_MAX_OPEN_FOR=10s" \
        "HANDOFF_LOG_LEVEL=info"
    # Then every HANDOFF_* setting of make's own environment (a local Slack receiver or SMTP
    # server, a feature switch), which wins over the defaults above; the stack's own addresses,
    # ports and token stay the stack's.
    env | grep -E '^HANDOFF_[A-Z0-9_]+=' | grep -vE \
        '^HANDOFF_(KAFKA_BOOTSTRAP|DATABASE_URL|ADMIN_TOKEN|HTTP_HOST|HTTP_PORT|STACK_[A-Z0-9_]*|[A-Z_]*_URL_FILE)=' || true
}

# The argv of `python -m MODULE ARGS...` in the services' environment, into SERVICE_ARGV.
service_argv() {
    local port=$1 settings
    shift
    mapfile -t settings < <(service_env)
    uv_argv
    SERVICE_ARGV=(env "${settings[@]}" "HANDOFF_HTTP_PORT=$port" "${UV[@]}" run --no-sync python -m "$@")
}

# Apply every service's migrations, the three at once (each has its own schema and Alembic
# history; most of the time goes into starting Python); any failure stops `up`.
services_migrate() {
    local entry name module port failed=""
    local -A jobs=()
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name module port <<<"$entry"
        say "migrating $name"
        service_argv "$port" "$module" migrate
        "${SERVICE_ARGV[@]}" >"$LOGS/migrate-$name.log" 2>&1 9>&- &
        jobs[$name]=$!
    done
    for name in "${!jobs[@]}"; do
        wait "${jobs[$name]}" || { log_tail "$LOGS/migrate-$name.log"; failed="$failed $name"; }
    done
    [[ -z "$failed" ]] || die "migrations of${failed} failed"
}

service_ready() {
    curl -fsS -o /dev/null --max-time 2 "$(service_url "$1")/readyz" 2>/dev/null
}

service_start() {
    local name=$1 module=$2 port=$3
    need_free_port "$name" "$port"
    say "starting $name on $(service_url "$port")"
    service_argv "$port" "$module"
    start_detached "$name" "${SERVICE_ARGV[@]}"
    SERVICE_STARTED_HERE[$name]=1
}

# Services this run of `up` started; one found running that exits while we wait for it was
# on its way down (SIGTERM): it is started again rather than reported as a failed start.
declare -A SERVICE_STARTED_HERE=()

# Wait for /readyz, failing early if a process we started died.
service_wait_ready() {
    local name=$1 port=$2 module=$3 deadline=$((SECONDS + SERVICE_READY_TIMEOUT))
    until service_ready "$port"; do
        if ! live_pid "$name" >/dev/null; then
            [[ -z "${SERVICE_STARTED_HERE[$name]:-}" ]] || { log_tail "$LOGS/$name.log"; die "$name exited during start-up"; }
            say "$name, found running, has stopped: starting it again"
            wait_until 30 not port_open "$port" || die_port_taken "$name" "$port"
            service_start "$name" "$module" "$port"
        fi
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
        IFS=: read -r name module port <<<"$entry"
        service_wait_ready "$name" "$port" "$module"
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
