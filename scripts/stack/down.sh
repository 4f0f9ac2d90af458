#!/usr/bin/env bash
# Stop the local stack: the services, Kafka, PostgreSQL, then any stray process of this
# checkout's stack. Keeps the data in .run. Safe to repeat.
set -euo pipefail

# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/postgres.sh
source "$ROOT/scripts/stack/postgres.sh"
# shellcheck source=scripts/stack/kafka.sh
source "$ROOT/scripts/stack/kafka.sh"
# shellcheck source=scripts/stack/services.sh
source "$ROOT/scripts/stack/services.sh"

any_alive() {
    local pid
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

# Whatever is left (started by hand, or whose pid file was lost): SIGTERM, then SIGKILL.
stop_strays() {
    local strays
    mapfile -t strays < <(stack_processes)
    ((${#strays[@]})) || return 0
    warn "stopping stray processes of this stack: ${strays[*]}"
    kill -TERM "${strays[@]}" 2>/dev/null || true
    if ! wait_until 15 not any_alive "${strays[@]}"; then
        kill -KILL "${strays[@]}" 2>/dev/null || true
    fi
}

main() {
    if [[ -d "$RUN" ]]; then
        take_stack_lock
        services_down
        kafka_down
        pg_down
    fi
    stop_strays
    say "stack down"
}

main "$@"
