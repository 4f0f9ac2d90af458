#!/usr/bin/env bash
# Create (or change the password of) a SASL/SCRAM-SHA-512 user on the local broker, with
# Kafka's own tool (kafka-configs, `kafka.admin.ConfigCommand`), as an operator would on a
# self-managed cluster:  scripts/stack/scram-user.sh NAME  (the password is read from stdin).
# The broker is this checkout's (HANDOFF_STACK_PORT_OFFSET), or HANDOFF_KAFKA_BOOTSTRAP if set.
set -euo pipefail

# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/kafka.sh
source "$ROOT/scripts/stack/kafka.sh"

(($# == 1)) || die "usage: scripts/stack/scram-user.sh NAME  (password on stdin)"
name=$1
bootstrap=${HANDOFF_KAFKA_BOOTSTRAP:-$KAFKA_BOOTSTRAP}
IFS= read -r password || true
[[ -n "$password" ]] || die "no password on stdin"
kafka_jars_present || die "Kafka's jars are missing: run \`make setup\`"
[[ "$password" =~ ^[A-Za-z0-9._~+/-]+$ ]] || die "the password may hold letters, digits and ._~+/- only"
log="$LOGS/scram-user.log"
# A local, single-user broker: the password is briefly on this command line (kafka-configs
# takes it there); on a shared host use a KafkaUser (Strimzi) or the Admin API instead.
"${KAFKA_JAVA[@]}" kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" --alter \
    --entity-type users --entity-name "$name" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >"$log" 2>&1 ||
    { log_tail "$log"; die "kafka-configs could not set the user"; }
say "SCRAM-SHA-512 user $name set on the broker at $bootstrap"
