"""Every overlay of deploy/k8s builds, and every object it renders is valid for Kubernetes
1.33 and for the CRDs of Strimzi, KEDA and CloudNativePG."""

from __future__ import annotations

import copy

import pytest

from tests.deploy.manifests import OVERLAYS, by_kind, problems, render


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_every_object_is_valid(overlay: str) -> None:
    objects = render(overlay)
    assert {"Deployment", "Job", "KafkaTopic", "ScaledObject", "NetworkPolicy"} <= {
        o["kind"] for o in objects
    }
    found = [problem for obj in objects for problem in problems(obj)]
    assert not found, "\n".join(found)


def test_validation_refuses_unknown_fields_and_wrong_types() -> None:
    """The checks above would catch a typo: a misspelled field of a core kind or of a CR."""
    objects = render("prod")
    deployment = copy.deepcopy(by_kind(objects, "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert problems(deployment)
    topic = copy.deepcopy(by_kind(objects, "KafkaTopic")[0])
    topic["spec"]["partitons"] = 12
    assert problems(topic)
    scaled = copy.deepcopy(by_kind(objects, "ScaledObject")[0])
    scaled["spec"]["maxReplicaCount"] = "twelve"
    assert problems(scaled)
    cluster = copy.deepcopy(by_kind(render("prod-cnpg"), "Cluster")[0])
    cluster["spec"]["instances"] = "three"
    assert problems(cluster)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_set_a_namespace_on_every_namespaced_object(overlay: str) -> None:
    assert all(obj["metadata"].get("namespace") for obj in render(overlay))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_an_admin_token_of_its_own(overlay: str) -> None:
    """A token read from one service's pods cannot administer another service."""
    secrets: dict[str, set[str]] = {}
    for deployment in by_kind(render(overlay), "Deployment"):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"].removeprefix("handoff-")
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                if variable["name"] == "HANDOFF_ADMIN_TOKEN":
                    secrets.setdefault(service, set()).add(variable["valueFrom"]["secretKeyRef"]["name"])
    assert set(secrets) == {"router", "sla-monitor", "feedback"}
    assert secrets == {service: {f"handoff-{service}-admin"} for service in secrets}
