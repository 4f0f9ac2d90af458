#!/usr/bin/env bash
# Profile the router of `make up` under load: py-spy samples it while bench/routing_throughput.py
# pushes leads through it, and writes a flame graph (SVG) and a speedscope profile to docs/profiles/.
#   bash scripts/profile_router.sh [LEADS]      (the stack must be up)
set -euo pipefail
# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/lib.sh"

leads=${1:-20000}
group=$(<"$PIDS/router.pid")
# The python process in the router's process group (uv runs it as a child).
pid=$(ps -o pid=,comm= -g "$group" | awk '$2 ~ /^python/ {print $1; exit}')
[[ -n "$pid" ]] || die "no python process in the router's process group $group: is the stack up?"
out="$ROOT/docs/profiles"
mkdir -p "$out"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# One run for the flame graph (SVG), one for the collapsed stacks that profile_stages.py splits;
# the router's CPU time over the second run, divided by its leads, is the per-lead budget.
say "sampling router pid $pid while $leads leads go through it (flame graph)"
"$ROOT/.venv/bin/py-spy" record --pid "$pid" --rate 100 --nonblocking --format flamegraph \
    --output "$out/router-under-load.svg" &
spy=$!
uv_python "$ROOT/bench/routing_throughput.py" --leads "$leads" --runs 1
kill -INT "$spy"
wait "$spy" || true

say "sampling again (collapsed stacks)"
"$ROOT/.venv/bin/py-spy" record --pid "$pid" --rate 100 --nonblocking --format raw \
    --output "$out/router-under-load.txt" &
spy=$!
before=$(cpu_ticks)
uv_python "$ROOT/bench/routing_throughput.py" --leads "$leads" --runs 1
after=$(cpu_ticks)
kill -INT "$spy"
wait "$spy" || true
hz=$(getconf CLK_TCK)
# The bench's relay phase leaves the router idle, so its CPU over the run is the routing's.
us_per_lead=$(( (after - before) * 1000000 / hz / leads ))
say "router CPU: $(( (after - before) / hz )) s for $leads leads: ${us_per_lead} µs per lead"
uv_python "$ROOT/scripts/profile_stages.py" "$out/router-under-load.txt" --cpu-us-per-lead "$us_per_lead"
say "flame graph: ${out#"$ROOT/"}/router-under-load.svg"
