#!/usr/bin/env bash
# Install what the project needs, when missing: uv (pip), PostgreSQL, Java 17, Maven and curl
# (apt), the virtualenv of every workspace package and the dev group (uv sync --frozen), and
# Apache Kafka's jars (Maven Central). Safe to repeat; quick when everything is there.
set -euo pipefail

# shellcheck source=scripts/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/kafka.sh
source "$ROOT/scripts/stack/kafka.sh"

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

java_major() {
    local version
    version=$(java -version 2>&1) || return 1
    [[ "$version" =~ version\ \"([0-9]+) ]] && printf '%s\n' "${BASH_REMATCH[1]}"
}

# The Debian packages to install: one for each tool that is missing.
missing_packages() {
    python3.11 -m pip --version >/dev/null 2>&1 || has_uv || echo python3-pip
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || echo postgresql
    (($(java_major || echo 0) >= 17)) || echo openjdk-17-jre-headless
    command -v mvn >/dev/null 2>&1 || echo maven
    command -v curl >/dev/null 2>&1 || echo curl
    [[ -x /usr/bin/chromium ]] || echo chromium # the dashboard's and API docs' browser tests
    command -v openssl >/dev/null 2>&1 || echo openssl
    command -v go >/dev/null 2>&1 || echo golang-go
    [[ -x /usr/bin/chromium ]] || echo chromium  # the browser tests (Playwright drives it)
}

# deploy/k8s is built with `kubectl kustomize`; without kubectl, kustomize itself from the Go
# module proxy (into .cache/bin).
install_kustomize() {
    command -v kubectl >/dev/null 2>&1 || command -v kustomize >/dev/null 2>&1 && return 0
    [[ -x "$CACHE/bin/kustomize" ]] && return 0
    say "installing kustomize (go install, Go module proxy)"
    GOBIN="$CACHE/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
}

install_packages() {
    local packages
    mapfile -t packages < <(missing_packages)
    ((${#packages[@]})) || return 0
    say "installing ${packages[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
    (($(java_major || echo 0) >= 17)) || die "Java 17 or newer is needed on PATH (java -version)"
}

has_uv() {
    command -v uv >/dev/null 2>&1 || python3.11 -m uv --version >/dev/null 2>&1
}

install_uv() {
    has_uv && return 0
    say "installing uv (pip)"
    python3.11 -m pip install --quiet uv ||
        python3.11 -m pip install --quiet --break-system-packages uv
    has_uv || die "uv is not runnable after pip install uv"
}

sync_virtualenv() {
    (cd "$ROOT" && uv_cmd sync --frozen --all-packages --python python3.11)
}

main() {
    command -v python3.11 >/dev/null 2>&1 || die "python3.11 is needed on PATH"
    install_packages
    install_uv
    sync_virtualenv
    kafka_fetch_jars
    install_kustomize
    bash "$ROOT/scripts/k8s/crds.sh"
    say "bootstrap done"
}

main "$@"
