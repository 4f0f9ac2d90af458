"""Policy over the rendered manifests: what an SRE checks before letting a workload in."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest
from handoff_shared.settings import ServiceSettings

from tests.deploy.dockerfiles import ROOT, SERVICES
from tests.deploy.manifests import OVERLAYS, Object, by_kind, render, workloads

SECRET_NAMES = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|KEY", re.IGNORECASE)


def pod_spec(workload: Object) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def labels_of(workload: Object) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_runs_locked_down(overlay: str) -> None:
    for workload in workloads(render(overlay)):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, name
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        assert not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, name
            assert context.get("readOnlyRootFilesystem") is True, name
            assert context.get("privileged") in (None, False), name
            assert context.get("capabilities", {}).get("drop") == ["ALL"], name
            assert not context.get("capabilities", {}).get("add"), name
            assert context.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, name
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), name
            assert "memory" in resources.get("limits", {}), name
            image = container["image"]
            assert not image.endswith(":latest"), name
            assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, f"{name}: {image} has no tag"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_probe_health_spread_and_have_disruption_budgets(overlay: str) -> None:
    objects = render(overlay)
    budgets = by_kind(objects, "PodDisruptionBudget")
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        (container,) = pod_spec(deployment)["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        keys = {c["topologyKey"] for c in pod_spec(deployment)["topologySpreadConstraints"]}
        assert {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= keys, name
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels_of(deployment))]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_apis_scale_on_requests_and_consumers_on_lag_never_beyond_partitions(overlay: str) -> None:
    objects = render(overlay)
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in by_kind(objects, "KafkaTopic")}
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind(objects, "HorizontalPodAutoscaler")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in by_kind(objects, "ScaledObject")}
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        role = labels_of(deployment)["app.kubernetes.io/component"]
        assert (name in hpas) == (role == "api"), name
        assert (name in scaled) == (role == "worker"), name
    for name, scaled_object in scaled.items():
        triggers = scaled_object["spec"]["triggers"]
        assert all(t["type"] == "kafka" and t["authenticationRef"]["name"] for t in triggers), name
        topics = [t["metadata"]["topic"] for t in triggers]
        assert all(topic in partitions for topic in topics), f"{name}: a trigger's topic has no KafkaTopic"
        assert scaled_object["spec"]["maxReplicaCount"] <= min(partitions[t] for t in topics), name
        assert all(t["metadata"]["allowIdleConsumers"] == "false" for t in triggers), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_stack_topic_is_a_kafka_topic_with_the_durability_settings(overlay: str) -> None:
    objects = render(overlay)
    stack_topics = re.search(r"TOPICS=\(([^)]*)\)", (ROOT / "scripts/stack/lib.sh").read_text()).group(1)  # type: ignore[union-attr]
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(objects, "KafkaTopic")}
    assert set(stack_topics.split()) <= set(topics), "every topic the services use is declared"
    brokers = 1 if overlay == "dev" else 3
    for name, spec in topics.items():
        assert spec["replicas"] == brokers, name
        assert spec["config"]["min.insync.replicas"] == (1 if overlay == "dev" else 2), name
        assert spec["config"]["cleanup.policy"] == ("compact" if name == "scoring.feedback" else "delete"), (
            name
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_only_references(overlay: str) -> None:
    objects = render(overlay)
    assert not by_kind(objects, "Secret"), "secrets come from external-secrets or sealed-secrets"
    for config_map in by_kind(objects, "ConfigMap"):
        assert not [key for key in config_map["data"] if SECRET_NAMES.search(key)], config_map["metadata"]
    for workload in workloads(objects):
        for container in pod_spec(workload)["containers"]:
            for variable in container.get("env", []):
                if SECRET_NAMES.search(variable["name"]):
                    assert "secretKeyRef" in variable.get("valueFrom", {}), variable


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_default_deny_network_policy_and_a_policy_for_every_pod(overlay: str) -> None:
    objects = render(overlay)
    policies = by_kind(objects, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny, "a default-deny policy"
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny[0]["spec"].get("egress")
    for workload in workloads(objects):
        allowed = [
            p
            for p in policies
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels_of(workload))
        ]
        assert any("Egress" in p["spec"]["policyTypes"] for p in allowed), workload["metadata"]["name"]


def settings_fields(service: str) -> set[str]:
    module = importlib.import_module(f"{SERVICES[service]}.settings")
    (settings,) = [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    ]
    return {f"HANDOFF_{name.upper()}" for name in settings.model_fields}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_the_manifests_give_is_one_the_service_reads(overlay: str) -> None:
    objects = render(overlay)
    config = {key for cm in by_kind(objects, "ConfigMap") for key in cm["data"]}
    for workload in workloads(objects):
        service = labels_of(workload)["app.kubernetes.io/name"].removeprefix("handoff-")
        known = settings_fields(service)
        (container,) = pod_spec(workload)["containers"]
        given = {v["name"] for v in container.get("env", [])} | config
        assert given <= known, f"{workload['metadata']['name']}: unknown settings {sorted(given - known)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_watches_the_consumer_groups_the_services_use(overlay: str) -> None:
    for scaled_object in by_kind(render(overlay), "ScaledObject"):
        service = scaled_object["metadata"]["name"].removeprefix("handoff-").rsplit("-", 1)[0]
        module = importlib.import_module(f"{SERVICES[service]}.settings")
        fields = next(
            cls.model_fields
            for cls in vars(module).values()
            if inspect.isclass(cls) and issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
        )
        groups = {field.default for name, field in fields.items() if name.endswith("group")}
        watched = {trigger["metadata"]["consumerGroup"] for trigger in scaled_object["spec"]["triggers"]}
        assert watched <= groups, (
            f"{scaled_object['metadata']['name']}: {watched - groups} is no group of {service}"
        )


def admits(policy: Object, namespace: str, port: int | str) -> bool:
    """Whether an ingress policy lets pods of ``namespace`` in on ``port``."""
    for rule in policy["spec"].get("ingress", []):
        peers = [p.get("namespaceSelector", {}).get("matchLabels", {}) for p in rule.get("from", [])]
        if {"kubernetes.io/metadata.name": namespace} in peers and any(
            p.get("port") == port for p in rule.get("ports", [])
        ):
            return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_broker_side_lag_is_exported_and_prometheus_may_scrape_it(overlay: str) -> None:
    objects = render(overlay)
    (cluster,) = by_kind(objects, "Kafka")
    exporter = cluster["spec"]["kafkaExporter"]
    groups = {g for service in SERVICES for g in consumer_groups(service)}
    assert all(re.fullmatch(exporter["groupRegex"], group) for group in groups), exporter
    assert re.fullmatch(exporter["topicRegex"], "lead.mql-created")
    # Strimzi labels the exporter's pod so; it serves /metrics on 9404.
    pod = {"strimzi.io/cluster": cluster["metadata"]["name"], "strimzi.io/name": "handoff-kafka-exporter"}
    policies = [
        p
        for p in by_kind(objects, "NetworkPolicy")
        if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], pod)
    ]
    assert any(admits(p, "monitoring", 9404) for p in policies)


def consumer_groups(service: str) -> set[str]:
    module = importlib.import_module(f"{SERVICES[service]}.settings")
    fields = next(
        cls.model_fields
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    )
    return {str(field.default) for name, field in fields.items() if name.endswith("group")}


# The Deployments whose pods serve an API beyond health and metrics.
API_DEPLOYMENTS = {"handoff-router-api", "handoff-feedback-api", "handoff-sla-monitor-worker"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_api_has_a_service_the_ingress_controller_may_reach(overlay: str) -> None:
    objects = render(overlay)
    deployments = {d["metadata"]["name"]: d for d in by_kind(objects, "Deployment")}
    assert set(deployments) >= API_DEPLOYMENTS
    policies = by_kind(objects, "NetworkPolicy")
    for name in API_DEPLOYMENTS:
        labels = labels_of(deployments[name])
        services = [
            s for s in by_kind(objects, "Service") if selects({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        assert len(services) == 1, f"{name}: {len(services)} Services"
        assert [p["targetPort"] for p in services[0]["spec"]["ports"]] == ["http"], name
        admitting = [
            p for p in policies if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)
        ]
        assert any(admits(p, "ingress-nginx", "http") for p in admitting), name
        (container,) = pod_spec(deployments[name])["containers"]
        assert "HANDOFF_ADMIN_TOKEN" in {v["name"] for v in container.get("env", [])}, name
