#!/usr/bin/env bash
# Profile the services of `make up` under load: py-spy samples the router, the sla-monitor and
# feedback at once while bench/routing_throughput.py pushes leads through the whole stack (until
# every service has consumed them and the callbacks have arrived), and writes a flame graph
# (SVG) and the collapsed stacks of each to docs/profiles/.
#   bash scripts/profile_stack.sh [LEADS]      (the stack must be up)
set -euo pipefail
# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/lib.sh"

leads=${1:-5000}
out="$ROOT/docs/profiles"
mkdir -p "$out"
spies=()
for service in router sla-monitor feedback; do
    group=$(<"$PIDS/$service.pid")
    # The python process in the service's process group (uv runs it as a child).
    pid=$(ps -o pid=,comm= -g "$group" | awk '$2 ~ /^python/ {print $1; exit}')
    [[ -n "$pid" ]] || die "no python process in the $service process group $group: is the stack up?"
    say "sampling $service (pid $pid)"
    # Two samplers on the same process (reading its memory, never stopping it): the flame graph,
    # and the collapsed stacks profile_stages.py splits into stages.
    "$ROOT/.venv/bin/py-spy" record --pid "$pid" --rate 50 --nonblocking --format flamegraph \
        --output "$out/$service-under-load.svg" >/dev/null 2>&1 &
    spies+=($!)
    "$ROOT/.venv/bin/py-spy" record --pid "$pid" --rate 50 --nonblocking --format raw \
        --output "$out/$service-under-load.txt" >/dev/null 2>&1 &
    spies+=($!)
done
uv_python "$ROOT/bench/routing_throughput.py" --leads "$leads" --runs 1
for spy in "${spies[@]}"; do kill -INT "$spy"; done
for spy in "${spies[@]}"; do wait "$spy" || true; done
for service in router sla-monitor feedback; do
    say "$service"
    uv_python "$ROOT/scripts/profile_stages.py" "$out/$service-under-load.txt"
done
say "flame graphs: ${out#"$ROOT/"}/{router,sla-monitor,feedback}-under-load.svg"
