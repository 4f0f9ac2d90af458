#!/usr/bin/env bash
# Start the local stack in the background: PostgreSQL (and migrations), Kafka (and topics),
# then the three services; wait until each is healthy; write .run/stack.env. Like
# `docker compose up -d`, parts already running are left alone and the others are started,
# so running it again is how the stack recovers from a crashed part.
set -euo pipefail

# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/postgres.sh
source "$ROOT/scripts/stack/postgres.sh"
# shellcheck source=scripts/stack/kafka.sh
source "$ROOT/scripts/stack/kafka.sh"
# shellcheck source=scripts/stack/services.sh
source "$ROOT/scripts/stack/services.sh"

# A quick look for what bootstrap.sh installs (it does not compare .venv with uv.lock:
# `make setup`, which `make test` and `make run` include, does).
needs_bootstrap() {
    [[ ! -x "$ROOT/.venv/bin/python" ]] || ! kafka_jars_present || ! command -v java >/dev/null ||
        ! command -v curl >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null ||
        ! { command -v uv >/dev/null || python3.11 -m uv --version >/dev/null 2>&1; }
}

# KEY=value lines without `export`, for `set -a; . .run/stack.env` and for dotenv readers.
write_stack_env() {
    local entry name port partial="$STACK_ENV.partial"
    local -A urls
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name _ port <<<"$entry"
        urls[$name]=$(service_url "$port")
    done
    (
        umask 077
        cat >"$partial" <<ENV
# Written by scripts/stack/up.sh (make up): the local stack's addresses.
HANDOFF_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP
HANDOFF_KAFKA_SCRAM_BOOTSTRAP=$KAFKA_SCRAM_BOOTSTRAP
HANDOFF_KAFKA_SCRAM_CAFILE=$KAFKA_CA
HANDOFF_DATABASE_URL=$DATABASE_URL
HANDOFF_ROUTER_URL=${urls[router]}
HANDOFF_SLA_MONITOR_URL=${urls[sla-monitor]}
HANDOFF_FEEDBACK_URL=${urls[feedback]}
HANDOFF_ADMIN_TOKEN=$(admin_token)
HANDOFF_CALLBACK_SECRETS_KEY=$(callback_secrets_key)
ENV
    )
    mv -f "$partial" "$STACK_ENV"
}

main() {
    local started=$SECONDS
    take_stack_lock
    if needs_bootstrap; then
        bash "$ROOT/scripts/stack/bootstrap.sh"
    fi
    kafka_launch # boots while PostgreSQL starts and the migrations run
    pg_up
    services_migrate
    kafka_wait_ready
    services_up
    write_stack_env
    say "stack up in $((SECONDS - started))s; addresses in ${STACK_ENV#"$ROOT/"}"
}

main "$@"
