"""First install and every sync: what a migration Job needs exists before it runs, and the
Deployments start only after it, both for Argo CD (phases and sync waves) and for the
runbook's kubectl steps (the ``handoff.dev/stage: prerequisites`` label, applied first)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.manifests import OVERLAYS, Object, by_kind, render

PHASES = {"PreSync": 0, "Sync": 1, "PostSync": 2}
PREREQUISITE = ("handoff.dev/stage", "prerequisites")


def argo_order(obj: Object) -> tuple[int, int]:
    """(phase, wave) in which Argo CD applies an object: plain resources are in Sync."""
    annotations = obj["metadata"].get("annotations", {})
    phase = PHASES[annotations.get("argocd.argoproj.io/hook", "Sync")]
    return phase, int(annotations.get("argocd.argoproj.io/sync-wave", "0"))


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def dependencies(job: Object, objects: tuple[Object, ...]) -> list[Object]:
    """The rendered objects a Job's pod needs: its ServiceAccount, ConfigMaps, the network
    policies that select it, and the objects that write the Secrets it reads."""
    spec = job["spec"]["template"]["spec"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    (container,) = spec["containers"]
    config_maps = {source["configMapRef"]["name"] for source in container.get("envFrom", [])}
    secrets = {v["valueFrom"]["secretKeyRef"]["name"] for v in container.get("env", []) if "valueFrom" in v}
    found = [
        obj
        for obj in objects
        if (obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == spec["serviceAccountName"])
        or (obj["kind"] == "ConfigMap" and obj["metadata"]["name"] in config_maps)
        or (obj["kind"] == "NetworkPolicy" and matches(obj["spec"]["podSelector"], labels))
        # CloudNativePG writes <cluster>-app with the connection URI.
        or (obj["kind"] == "Cluster" and f"{obj['metadata']['name']}-app" in secrets)
    ]
    # The database's own policy admits the Job's pods.
    clusters = {obj["metadata"]["name"] for obj in found if obj["kind"] == "Cluster"}
    found += [
        obj
        for obj in by_kind(objects, "NetworkPolicy")
        if obj["spec"]["podSelector"].get("matchLabels", {}).get("cnpg.io/cluster") in clusters
    ]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_jobs_run_after_what_they_need_and_before_the_deployments(overlay: str) -> None:
    objects = render(overlay)
    jobs = [job for job in by_kind(objects, "Job") if job["metadata"]["name"].endswith("-migrate")]
    assert len(jobs) == 3
    for job in jobs:
        name = job["metadata"]["name"]
        needed = dependencies(job, objects)
        kinds = {obj["kind"] for obj in needed}
        assert {"ServiceAccount", "ConfigMap", "NetworkPolicy"} <= kinds, name
        assert ("Cluster" in kinds) == (overlay == "prod-cnpg"), name
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] != "PreSync", (
            "a PreSync hook runs before any other object exists on a first install"
        )
        for obj in needed:
            what = f"{name} needs {obj['kind']}/{obj['metadata']['name']}"
            assert argo_order(obj) < argo_order(job), what
            assert obj["metadata"].get("labels", {}).get(PREREQUISITE[0]) == PREREQUISITE[1], what
        assert PREREQUISITE[0] not in job["metadata"].get("labels", {}), name
        for deployment in by_kind(objects, "Deployment"):
            assert argo_order(job) < argo_order(deployment), deployment["metadata"]["name"]
            assert PREREQUISITE[0] not in deployment["metadata"].get("labels", {})


def test_argo_order_reads_hooks_and_waves() -> None:
    def annotated(**annotations: str) -> Object:
        return {"metadata": {"annotations": annotations}}

    assert argo_order({"metadata": {}}) == (1, 0)
    assert argo_order(annotated(**{"argocd.argoproj.io/hook": "PreSync"})) < argo_order(annotated())
    assert argo_order(annotated(**{"argocd.argoproj.io/sync-wave": "-1"})) < argo_order(annotated())
