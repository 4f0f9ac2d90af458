# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source it
# What every stack script shares: where things live, the stack's fixed addresses, and small
# helpers for processes we start in the background. Sourced, never run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$ROOT/.run"
CACHE="$ROOT/.cache"
PIDS="$RUN/pids"
LOGS="$RUN/logs"
STACK_ENV="$RUN/stack.env"

# HANDOFF_STACK_PORT_OFFSET moves every port of the stack, so that two checkouts on one
# machine (say, two worktrees) can each run their own stack side by side.
PORT_OFFSET=${HANDOFF_STACK_PORT_OFFSET:-0}
[[ "$PORT_OFFSET" =~ ^[0-9]+$ ]] || { printf 'stack: HANDOFF_STACK_PORT_OFFSET must be a number\n' >&2; exit 1; }
KAFKA_PORT=$((19092 + PORT_OFFSET))
KAFKA_CONTROLLER_PORT=$((19093 + PORT_OFFSET))
# A second listener, SASL/SCRAM-SHA-512 over TLS, as production brokers have (the services
# use the plain one; tests/integration/test_kafka_scram.py uses this one).
KAFKA_SCRAM_PORT=$((19094 + PORT_OFFSET))
PG_PORT=$((55432 + PORT_OFFSET))
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
KAFKA_SCRAM_BOOTSTRAP="127.0.0.1:$KAFKA_SCRAM_PORT"
DATABASE_URL="postgresql+asyncpg://handoff:handoff@127.0.0.1:$PG_PORT/handoff"

# The topics of CONTRACT §1, created with TOPIC_PARTITIONS partitions each, and the
# dead-letter topics of the consumed topics: <topic>.dlq written by the topic's first consumer,
# <topic>.<service>.dlq by each other service reading it (CONTRACT §13, docs/architecture.md).
TOPICS=(lead.mql-created lead.mql-created.dlq lead.assigned lead.accepted lead.rejected
        lead.escalated lead.qualified scoring.feedback routing.config
        lead.assigned.dlq lead.accepted.dlq lead.rejected.dlq lead.escalated.dlq lead.qualified.dlq
        routing.config.dlq lead.mql-created.feedback.dlq lead.assigned.feedback.dlq
        lead.accepted.feedback.dlq lead.rejected.feedback.dlq lead.escalated.feedback.dlq)
TOPIC_PARTITIONS=4

# name:python module:HTTP port, in start order.
SERVICES=(router:handoff_router:$((8081 + PORT_OFFSET)) sla-monitor:handoff_sla_monitor:$((8082 + PORT_OFFSET))
          feedback:handoff_feedback:$((8083 + PORT_OFFSET)))

# Every process the stack starts carries this variable, so `down` can find strays by it.
STACK_MARK="HANDOFF_STACK_ROOT=$ROOT"

export UV_PYTHON_DOWNLOADS=never

say() { printf '%s\n' "stack: $*"; }
warn() { printf '%s\n' "stack: $*" >&2; }
die() { warn "error: $*"; exit 1; }

# The uv command, into the array UV: on PATH, or the one `pip install uv` put beside python3.11.
uv_argv() {
    if command -v uv >/dev/null 2>&1; then
        UV=(uv)
    else
        UV=(python3.11 -m uv)
    fi
}

uv_cmd() {
    uv_argv
    "${UV[@]}" "$@"
}

uv_python() { uv_cmd run --no-sync python "$@"; }

ensure_run_dirs() {
    mkdir -p "$RUN" "$PIDS" "$LOGS"
}

# Serialise stack commands of this checkout (two `make up` at once would race). Whatever
# runs in the background must not inherit fd 9, or it would hold the lock.
take_stack_lock() {
    ensure_run_dirs
    exec 9>"$RUN/stack.lock"
    flock 9
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Who listens on a port.
port_owner() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d = -f 2 || true
}

# Fail because PART's port is taken: by a process of this stack that lost its pid file, or
# by something else.
die_port_taken() {
    local part=$1 port=$2 owner
    owner=$(port_owner "$port")
    if [[ -n "$owner" ]] && is_ours "$owner"; then
        die "port $port is held by pid $owner, a process of this stack whose pid file is gone: run \`make down\` first"
    fi
    die "port $port, needed by $part, is taken by another process${owner:+ (pid $owner)}"
}

# Run "$@" until it succeeds; give up after $1 seconds.
# Fail unless PART's port is free. A part killed a moment ago may still hold it while its
# processes die (the pid file's process is gone first): wait a little for that before failing.
need_free_port() {
    local part=$1 port=$2
    port_open "$port" || return 0
    wait_until 20 not port_open "$port" || die_port_taken "$part" "$port"
}

wait_until() {
    local timeout=$1 deadline
    shift
    deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# The NUL-separated command line or environment of a process, one item a line.
proc_file() { tr '\0' '\n' 2>/dev/null <"/proc/$1/$2"; }

is_ours() {
    local environ
    environ=$(proc_file "$1" environ) && [[ $'\n'"$environ"$'\n' == *$'\n'"$STACK_MARK"$'\n'* ]]
}

# The pid in .run/pids/NAME.pid when that process is alive and was started by this checkout.
live_pid() {
    local file="$PIDS/$1.pid" pid
    [[ -f "$file" ]] || return 1
    pid=$(<"$file")
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && is_ours "$pid" && printf '%s\n' "$pid"
}

# One line of `status`: NAME STATE [pid PID] [ADDRESS].
status_line() {
    local name=$1 state=$2 pid=${3:-} address=${4:-}
    printf '%-12s %-14s %-12s %s\n' "$name" "$state" "${pid:+pid $pid}" "$address"
}

log_tail() {
    local log=$1
    [[ -f "$log" ]] || return 0
    warn "last lines of $log:"
    tail -n "${2:-40}" "$log" | sed 's/^/    /' >&2
}

# Start "$@" as NAME in its own session (pid = process group id), logging to .run/logs/NAME.log.
# The previous log is kept as NAME.log.1.
start_detached() {
    local name=$1 log="$LOGS/$1.log"
    shift
    [[ -f "$log" ]] && mv -f "$log" "$log.1"
    setsid env "$STACK_MARK" "$@" >"$log" 2>&1 </dev/null 9>&- &
    printf '%s\n' "$!" >"$PIDS/$name.pid"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# SIGTERM a process group, wait up to $2 seconds, then SIGKILL what is left.
stop_group() {
    local pid=$1 timeout=$2
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    if ! wait_until "$timeout" not group_alive "$pid"; then
        warn "process group $pid still alive after ${timeout}s: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
}

# Stop the process of .run/pids/NAME.pid, if it is alive, and forget it.
stop_named() {
    local name=$1 timeout=$2 pid
    if pid=$(live_pid "$name"); then
        say "stopping $name (pid $pid)"
        stop_group "$pid" "$timeout"
    fi
    rm -f "$PIDS/$name.pid"
}

not() { ! "$@"; }

# Processes of this checkout's stack: marked ones, and any java or postgres whose command
# line points into this checkout's .cache or .run (e.g. started by hand).
stack_processes() {
    local proc pid comm cmdline
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        comm=$(cat 2>/dev/null <"$proc/comm") || continue
        cmdline=$(proc_file "$pid" cmdline) || continue
        if is_ours "$pid"; then
            printf '%s\n' "$pid"
        elif [[ "$comm" == java || "$comm" == postgres ]] &&
            [[ "$cmdline" == *"$CACHE/kafka/lib"* || "$cmdline" == *"$RUN/pg/data"* ]]; then
            printf '%s\n' "$pid"
        fi
    done
}
