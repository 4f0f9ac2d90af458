#!/usr/bin/env bash
# Print the state of each part of the local stack.
set -euo pipefail

# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/postgres.sh
source "$ROOT/scripts/stack/postgres.sh"
# shellcheck source=scripts/stack/kafka.sh
source "$ROOT/scripts/stack/kafka.sh"
# shellcheck source=scripts/stack/services.sh
source "$ROOT/scripts/stack/services.sh"

pg_status
kafka_status
services_status
