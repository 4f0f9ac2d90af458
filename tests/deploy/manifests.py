"""Render the Kustomize overlays of deploy/k8s and validate objects offline: Kubernetes' own
kinds against its OpenAPI schemas (kubernetes-validate), custom resources against the
openAPIV3Schema of their CRDs (Strimzi, KEDA, CloudNativePG), fetched from package
registries into .cache/crds by scripts/k8s/crds.sh."""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.deploy.dockerfiles import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod", "prod-cnpg")
KUBERNETES_VERSION = "1.33.0"
CRDS = ROOT / ".cache" / "crds"
CRD_SCRIPT = ROOT / "scripts" / "k8s" / "crds.sh"

Object = dict[str, Any]


def kustomize_argv(path: Path) -> list[str]:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize", str(path)]
    if kustomize := shutil.which("kustomize") or shutil.which("kustomize", path=ROOT / ".cache" / "bin"):
        return [kustomize, "build", str(path)]
    raise RuntimeError("neither kubectl nor kustomize is on PATH: run `make setup`")


@functools.cache
def render(overlay: str) -> tuple[Object, ...]:
    """The objects ``kubectl kustomize deploy/k8s/overlays/<overlay>`` writes."""
    result = subprocess.run(
        kustomize_argv(K8S / "overlays" / overlay), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed for {overlay}:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def ensure_crds() -> Path:
    """The CRDs of .cache/crds, fetched first when missing."""
    if not any(CRDS.glob("*.yaml")) or len(list(CRDS.glob("*.yaml"))) < 8:
        subprocess.run(["bash", str(CRD_SCRIPT)], check=True, timeout=900)
    return CRDS


@functools.cache
def crd_schemas() -> dict[tuple[str, str], Object]:
    """(apiVersion, kind) -> a strict JSON Schema of that custom resource."""
    schemas: dict[tuple[str, str], Object] = {}
    for path in sorted(ensure_crds().glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema["properties"]["metadata"] = {"type": "object"}
                schema["properties"].setdefault("apiVersion", {"type": "string"})
                schema["properties"].setdefault("kind", {"type": "string"})
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def strict(schema: Any) -> Any:
    """Refuse fields a schema does not name, as ``kubectl apply --validate=strict`` would
    (where the schema does not keep unknown fields on purpose)."""
    if isinstance(schema, dict):
        for value in schema.values():
            strict(value)
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        for item in schema:
            strict(item)
    return schema


def problems(obj: Object) -> list[str]:
    """What is wrong with one object (empty when it is valid)."""
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    name = f"{key[1]}/{obj.get('metadata', {}).get('name')}"
    if key in crd_schemas():
        validator = jsonschema.Draft7Validator(crd_schemas()[key])
        return [
            f"{name}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key[0]} {key[1]} (neither Kubernetes' nor a fetched CRD's)"]
    except kubernetes_validate.ValidationError as error:
        return [f"{name}: {'.'.join(map(str, error.path))}: {error.message}"]
    return []


def workloads(objects: tuple[Object, ...]) -> list[Object]:
    return [obj for obj in objects if obj["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}]


def by_kind(objects: tuple[Object, ...], kind: str) -> list[Object]:
    return [obj for obj in objects if obj["kind"] == kind]
