"""deploy/k8s: schema-valid for a pinned Kubernetes, in step with its generator, and within policy."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.ops.conftest import DOCKERFILE, K8S, PROCS, Proc, exec_form, parse_dockerfile

pytestmark = pytest.mark.timeout(60)


@cache
def render() -> Any:
    spec = importlib.util.spec_from_file_location("tessera_k8s_render", K8S / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@cache
def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def applied() -> list[dict[str, Any]]:
    """Everything `kubectl apply -k deploy/k8s` creates."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [d for name in kustomization["resources"] for d in documents(name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in applied() if d["kind"] == kind}


def test_manifests_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(K8S / "render.py"), "--check"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_valid_for_the_pinned_kubernetes_in_strict_mode(name: str) -> None:
    for doc in documents(name):
        kubernetes_validate.validate(doc, desired_version=render().KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_everything_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(set(MANIFESTS) - {"secrets.example.yaml"})


def test_every_service_has_deployment_service_hpa_pdb_and_migration_job() -> None:
    for proc in PROCS:
        assert proc.name in of_kind("Deployment")
        assert of_kind("Service")[proc.name]["spec"]["ports"][0]["port"] == proc.port
        hpa = of_kind("HorizontalPodAutoscaler")[proc.name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": proc.name}
        assert hpa["spec"]["minReplicas"] >= 2
        pdb = of_kind("PodDisruptionBudget")[proc.name]
        labels = of_kind("Deployment")[proc.name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"], "a drain must be able to evict one"
        job = of_kind("Job")[f"{proc.name}-migrate"]
        assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "/app/migrate.py", proc.name]


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    pods = [(f"Deployment/{n}", d["spec"]["template"]["spec"]) for n, d in of_kind("Deployment").items()]
    pods += [(f"Job/{n}", d["spec"]["template"]["spec"]) for n, d in of_kind("Job").items()]
    return pods


def test_every_pod_runs_non_root_read_only_without_capabilities() -> None:
    for where, pod in _pod_specs():
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["automountServiceAccountToken"] is False, where
        mounts_tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 1000, (where, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (where, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (where, c["name"])
            assert {"limits", "requests"} <= set(c["resources"]), (where, c["name"])
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), (where, c["name"])
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in mounts_tmp, (where, c["name"], "an emptyDir on /tmp")


def test_every_deployment_probes_health_and_readiness() -> None:
    for name, deployment in of_kind("Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name


def test_termination_grace_covers_drain_and_uvicorns_graceful_timeout() -> None:
    _, stages = parse_dockerfile(DOCKERFILE)
    by_name = {s.name: s for s in stages}
    for name, deployment in of_kind("Deployment").items():
        cmd_line = by_name[name].last("CMD")
        assert cmd_line is not None
        cmd = exec_form(cmd_line)
        graceful = int(cmd[cmd.index("--timeout-graceful-shutdown") + 1])
        assert graceful == render().UVICORN_GRACEFUL_SECONDS
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        # preStop, then uvicorn drains, then the runtime stops its relay/consumer (10 s budget).
        assert pod["terminationGracePeriodSeconds"] > pre_stop + graceful + render().RUNTIME_STOP_SECONDS, name
        assert container.get("command") is None and container.get("args") is None, "the image's CMD runs"


def _effective_env(proc: Proc, secrets_too: bool = True) -> dict[str, str]:
    """What the server container's envFrom gives it: ConfigMaps, then the Secret templates."""
    (container,) = of_kind("Deployment")[proc.name]["spec"]["template"]["spec"]["containers"]
    config_maps = of_kind("ConfigMap")
    secret_docs = {d["metadata"]["name"]: d for d in documents("secrets.example.yaml")}
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            data = config_maps[source["configMapRef"]["name"]]["data"]
        else:
            data = secret_docs[source["secretRef"]["name"]]["stringData"] if secrets_too else {}
        env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    return env


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_config_keys_are_the_services_settings(proc: Proc) -> None:
    settings_cls = getattr(importlib.import_module(f"{proc.package}.settings"), proc.settings)
    known = {f"{proc.prefix}{name.upper()}" for name in settings_cls.model_fields}
    env = _effective_env(proc)
    assert set(env) <= known, f"not settings of {proc.name}: {set(env) - known}"
    assert env[f"{proc.prefix}ENVIRONMENT"] == "production"
    assert env[f"{proc.prefix}RUN_MIGRATIONS_ON_START"] == "false", "the migration Job migrates"
    assert env[f"{proc.prefix}DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert f"{proc.prefix}JWT_SIGNING_KEY" in env


def test_every_referenced_secret_has_a_template() -> None:
    templates = {d["metadata"]["name"] for d in documents("secrets.example.yaml")}
    for where, pod in _pod_specs():
        for c in pod.get("initContainers", []) + pod["containers"]:
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in templates, where


def test_no_secret_holds_a_real_value() -> None:
    assert not of_kind("Secret"), "kustomize must not apply Secrets (it would overwrite the real ones)"
    for name in MANIFESTS:
        for doc in documents(name):
            if doc["kind"] != "Secret":
                continue
            assert "data" not in doc, "templates use stringData with visible placeholders"
            for key, value in doc["stringData"].items():
                assert "REPLACE-ME" in value, f"{doc['metadata']['name']}.{key}"
    for doc in of_kind("ConfigMap").values():
        for key in doc["data"]:
            assert not any(w in key for w in ("SECRET", "PASSWORD", "SIGNING_KEY", "ACCOUNTS", "DATABASE_URL")), key


def test_topic_job_creates_the_contract_topics_with_the_compose_script() -> None:
    from tests.ops.conftest import ROOT

    script = of_kind("ConfigMap")["kafka-topics"]["data"]["kafka-topics.sh"]
    assert script == (ROOT / "deploy/docker/kafka-topics.sh").read_text()
    job = of_kind("Job")["kafka-topics"]
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PARTITIONS"] == "6" and env["DLQ_PARTITIONS"] == "3"
    assert int(env["REPLICATION_FACTOR"]) > int(env["MIN_INSYNC_REPLICAS"]) >= 2


def test_consumer_hpa_ceiling_matches_the_partition_count() -> None:
    job = of_kind("Job")["kafka-topics"]
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    for proc in PROCS:
        if proc.name != "gateway":
            assert of_kind("HorizontalPodAutoscaler")[proc.name]["spec"]["maxReplicas"] <= int(env["PARTITIONS"])


def test_secret_template_is_valid_json_where_the_setting_is_json() -> None:
    gateway = {d["metadata"]["name"]: d for d in documents("secrets.example.yaml")}["tessera-gateway"]
    assert isinstance(json.loads(gateway["stringData"]["ACCOUNTS_JSON"]), list)


def test_make_lint_validates_against_the_same_kubernetes_version() -> None:
    from tests.ops.conftest import ROOT

    makefile = (ROOT / "Makefile").read_text()
    assert f"K8S_VERSION := {render().KUBERNETES_VERSION}" in makefile
