"""The production manifests cannot run here (no Docker engine, no cluster): check their
structure statically, so they stay consistent with the code they deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canhbao.cli import app
from canhbao.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
K8S = [doc for doc in yaml.safe_load_all((DEPLOY / "k8s/canhbao.yaml").read_text()) if doc]
SETTINGS = set(Settings.model_fields)


def _canhbao_vars(env: dict[str, Any]) -> set[str]:
    return {k.removeprefix("CANHBAO_").lower() for k in env if k.startswith("CANHBAO_")}


def _commands() -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}


def test_compose_has_every_service_with_health_checks() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "opensearch", "elasticsearch", "topics", "worker", "review", "collector",
            "intake", "deliverer"} <= set(services)  # fmt: skip
    for name in (
        "kafka",
        "opensearch",
        "elasticsearch",
        "worker",
        "review",
        "collector",
        "intake",
        "deliverer",
    ):
        assert "healthcheck" in services[name], name
    assert services["elasticsearch"]["profiles"] == ["elasticsearch"]
    assert services["worker"]["depends_on"]["topics"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_publishes_nothing_beyond_loopback() -> None:
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_compose_and_k8s_only_set_real_settings_and_commands() -> None:
    envs = [s.get("environment", {}) for s in COMPOSE["services"].values()]
    envs += [d["data"] for d in K8S if d["kind"] == "ConfigMap"]
    containers = [
        c
        for d in K8S
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    ] + [
        c
        for d in K8S
        if d["kind"] == "CronJob"
        for c in d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    ]
    envs += [{e["name"]: e["value"] for e in c.get("env", [])} for c in containers]
    for env in envs:
        unknown = _canhbao_vars(env) - SETTINGS
        assert not unknown, f"not settings: {unknown}"
    args = [s["command"] for s in COMPOSE["services"].values() if "command" in s]
    args += [c["args"] for c in containers]
    for argv in args:
        assert argv[0] in _commands(), argv


def test_k8s_workloads_have_resources_and_probes() -> None:
    deployments = [d for d in K8S if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "canhbao-worker", "canhbao-review", "canhbao-collector", "canhbao-intake",
        "canhbao-deliverer",
    }  # fmt: skip
    for name in ("canhbao-collector", "canhbao-deliverer"):  # one state file, one writer
        [single] = [d for d in deployments if d["metadata"]["name"] == name]
        assert single["spec"]["replicas"] == 1
        assert single["spec"]["strategy"]["type"] == "Recreate"
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert resources["requests"], container["name"]
            assert resources["limits"], container["name"]
            assert "livenessProbe" in container, container["name"]
            assert "readinessProbe" in container, container["name"]
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]


def test_worker_replicas_do_not_exceed_partitions() -> None:
    [config] = [d for d in K8S if d["kind"] == "ConfigMap"]
    partitions = int(config["data"]["CANHBAO_TOPIC_PARTITIONS"])
    [worker] = [d for d in K8S if d["metadata"]["name"] == "canhbao-worker"]
    assert worker["spec"]["replicas"] <= partitions
    compose_worker = COMPOSE["services"]["worker"]
    assert compose_worker["deploy"]["replicas"] <= partitions
