"""Writes the Kubernetes manifests in this folder from one description of the six processes.

    python deploy/k8s/render.py          rewrite the YAML files here
    python deploy/k8s/render.py --check  exit 1 when a committed file differs (tests/ops runs it)

The YAML files are the deliverable (plain manifests, applied with `kubectl apply -k deploy/k8s`);
this script only keeps the six processes' manifests from drifting apart. Edit it, not them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NAMESPACE = "tessera"
VERSION = "0.1.0"
KAFKA_IMAGE = "apache/kafka:4.3.1"
KUBERNETES_VERSION = "1.31.0"  # the API the manifests are validated against (tests/ops)

# Shutdown budget, in step with the image's CMD (--timeout-graceful-shutdown 20) and the
# runtime's own stop (Runtime.stop gives scheduler, consumer and relay 10 s each, in turn):
# endpoints drain during the preStop sleep, SIGTERM lets uvicorn finish in-flight requests,
# then the lifespan ends.
PRESTOP_SLEEP_SECONDS = 5
UVICORN_GRACEFUL_SECONDS = 20
RUNTIME_STOP_SECONDS = 30
TERMINATION_GRACE_SECONDS = PRESTOP_SLEEP_SECONDS + UVICORN_GRACEFUL_SECONDS + RUNTIME_STOP_SECONDS + 5
UID = 10001
PLACEHOLDER = "REPLACE-ME"


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    consumes: bool  # runs a Kafka consumer group (replicas past the partition count idle)
    config: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    max_replicas: int = 6
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"

    @property
    def prefix(self) -> str:
        return f"TESSERA_{self.name.replace('-', '_').upper()}_"

    @property
    def db(self) -> str:
        return self.name.replace("-", "_")


def _db_url(svc: str) -> str:
    db = svc.replace("-", "_")
    return f"postgresql+asyncpg://{db}:{PLACEHOLDER}-{db}-db-secret@postgres.example.internal:5432/{db}"


SERVICES = [
    Service("customer", 8001, consumes=True),
    Service(
        "sales",
        8002,
        consumes=True,
        config={"CUSTOMER_URL": "http://customer:8001", "CLIENT_ID": "svc-sales"},
        secrets={"CLIENT_SECRET": f"{PLACEHOLDER}-sales-client-secret"},
    ),
    Service(
        "service-desk",
        8003,
        consumes=True,
        config={"CUSTOMER_URL": "http://customer:8001", "CLIENT_ID": "svc-service-desk"},
        secrets={
            "SURVEY_TOKEN_SECRET": f"{PLACEHOLDER}-survey-token-secret",
            "CLIENT_SECRET": f"{PLACEHOLDER}-service-desk-client-secret",
        },
    ),
    Service(
        "billing",
        8004,
        consumes=True,
        config={"CUSTOMER_URL": "http://customer:8001", "CLIENT_ID": "svc-billing"},
        secrets={"CLIENT_SECRET": f"{PLACEHOLDER}-billing-client-secret"},
    ),
    Service(
        "notifications",
        8005,
        consumes=True,
        # Who receives notifications (services/notifications/README.md): user entries with e-mail
        # addresses, a secret like the gateway's accounts.
        config={
            "SMTP_HOST": "smtp.example.internal",
            "SMTP_PORT": "587",
            "SMTP_TLS": "starttls",
            "MAIL_FROM": "Tessera CRM <crm@example.com>",
            "PUBLIC_URL": "https://crm.example.com",
        },
        secrets={
            "USERS_JSON": f'[{{"username": "{PLACEHOLDER}", "roles": ["admin"], '
            f'"email": "{PLACEHOLDER}@example.com", "locale": "en"}}]',
            "SMTP_USERNAME": f"{PLACEHOLDER}-smtp-user",
            "SMTP_PASSWORD": f"{PLACEHOLDER}-smtp-password",
        },
    ),
    Service(
        "gateway",
        8000,
        consumes=False,
        max_replicas=10,
        config={
            "CUSTOMER_URL": "http://customer:8001",
            "SALES_URL": "http://sales:8002",
            "SERVICE_DESK_URL": "http://service-desk:8003",
            "BILLING_URL": "http://billing:8004",
            "NOTIFICATIONS_URL": "http://notifications:8005",
            # The gateway publishes its API keys (crm.gateway) through its outbox: the services
            # learn keys and revocations from them (tessera_shared.api_keys).
            "KAFKA_ENABLED": "true",
            # The ingress controller runs in the cluster: X-Forwarded-For is taken from the pod
            # networks only, so the login lock and the survey links' limit see the client's address
            # (docs/operations.md). Narrow this to the ingress's own range where it is known.
            "TRUSTED_PROXIES": '["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]',
        },
        secrets={
            "ACCOUNTS_JSON": f'[{{"username": "{PLACEHOLDER}", "password_hash": '
            f'"{PLACEHOLDER}-argon2-hash", "roles": ["admin"], "kind": "user"}}]'
        },
    ),
]

# Non-secret settings every service shares (keys without prefix; envFrom adds each service's).
COMMON_CONFIG = {
    "ENVIRONMENT": "production",
    "KAFKA_BOOTSTRAP": "kafka-bootstrap.kafka.svc:9092",
    "KAFKA_CREATE_TOPICS": "false",  # the kafka-topics Job creates them
    "RUN_MIGRATIONS_ON_START": "false",  # the migration Jobs migrate
    "LOG_LEVEL": "INFO",
    "LOG_JSON": "true",
    # Tokens, and the revoked access tokens every process follows (<gateway>/auth/revocations).
    "GATEWAY_URL": "http://gateway:8000",
}


def labels(svc: str, component: str = "server") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": svc,
        "app.kubernetes.io/part-of": "tessera",
        "app.kubernetes.io/component": component,
    }


def meta(name: str, svc: str, component: str = "server", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": labels(svc, component), **extra}


def image(s: Service) -> str:
    return f"tessera/{s.name}:{VERSION}"


def env_from(s: Service) -> list[dict[str, Any]]:
    p = s.prefix
    return [
        {"configMapRef": {"name": "tessera-common"}, "prefix": p},
        {"configMapRef": {"name": f"tessera-{s.name}"}, "prefix": p},
        {"secretRef": {"name": "tessera-jwt"}, "prefix": p},
        {"secretRef": {"name": f"tessera-{s.name}"}, "prefix": p},
    ]


def container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security(uid: int = UID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
SMALL = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}


def migration_container(s: Service, name: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": image(s),
        "command": ["python", "/app/migrate.py", s.name, *args],
        "envFrom": env_from(s),
        "resources": SMALL,
        "securityContext": container_security(),
        "volumeMounts": [TMP_MOUNT],
    }


def service_documents(s: Service) -> list[dict[str, Any]]:
    selector = {"app.kubernetes.io/name": s.name, "app.kubernetes.io/component": "server"}
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "timeoutSeconds": 2}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(f"tessera-{s.name}", s.name),
        "data": dict(s.config),
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(s.name, s.name),
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels(s.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(s.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": pod_security(),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector},
                        }
                    ],
                    # New pods start only once their schema is there (the migration Job's work).
                    "initContainers": [migration_container(s, "wait-for-schema", ["--wait", "600"])],
                    "containers": [
                        {
                            "name": s.name,
                            "image": image(s),
                            "ports": [{"name": "http", "containerPort": s.port, "protocol": "TCP"}],
                            "envFrom": env_from(s),
                            "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 30},
                            "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": "http"},
                                "timeoutSeconds": 3,
                                "periodSeconds": 5,
                                "failureThreshold": 2,
                            },
                            # Let endpoint removal reach every proxy before SIGTERM stops the listener.
                            "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SLEEP_SECONDS)]}}},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": s.cpu_limit, "memory": s.memory_limit},
                            },
                            "securityContext": container_security(),
                            "volumeMounts": [TMP_MOUNT],
                        }
                    ],
                    "volumes": [TMP_VOLUME],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(s.name, s.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": s.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(s.name, s.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": s.name},
            "minReplicas": 2,
            # Consumers: replicas past the partition count (6) idle in the group; HTTP still scales.
            "maxReplicas": s.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(s.name, s.name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(f"{s.name}-migrate", s.name, "migration"),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 900,
            # Gone soon after success, so the next release's apply can create it anew.
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": labels(s.name, "migration")},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [migration_container(s, "migrate", [])],
                    "volumes": [TMP_VOLUME],
                },
            },
        },
    }
    return [config_map, deployment, service, hpa, pdb, job]


def common_documents() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAMESPACE,
                "labels": {"app.kubernetes.io/part-of": "tessera", "pod-security.kubernetes.io/enforce": "restricted"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("tessera-common", "tessera", "config"),
            "data": dict(COMMON_CONFIG),
        },
    ]


def topics_documents() -> list[dict[str, Any]]:
    script = (ROOT / "deploy/docker/kafka-topics.sh").read_text()
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("kafka-topics", "kafka-topics", "topics"),
            "data": {"kafka-topics.sh": script},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("kafka-topics", "kafka-topics", "topics"),
            "spec": {
                "backoffLimit": 6,
                "activeDeadlineSeconds": 600,
                "ttlSecondsAfterFinished": 600,
                "template": {
                    "metadata": {"labels": labels("kafka-topics", "topics")},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security(1000),  # the apache/kafka image's appuser
                        "containers": [
                            {
                                "name": "kafka-topics",
                                "image": KAFKA_IMAGE,
                                "command": ["/bin/bash", "/tessera/kafka-topics.sh"],
                                "env": [
                                    {
                                        "name": "KAFKA_BOOTSTRAP",
                                        "valueFrom": {
                                            "configMapKeyRef": {"name": "tessera-common", "key": "KAFKA_BOOTSTRAP"}
                                        },
                                    },
                                    {"name": "PARTITIONS", "value": "6"},
                                    {"name": "DLQ_PARTITIONS", "value": "3"},
                                    {"name": "REPLICATION_FACTOR", "value": "3"},
                                    {"name": "MIN_INSYNC_REPLICAS", "value": "2"},
                                    {"name": "LOG_DIR", "value": "/tmp/kafka-logs"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "256Mi"},
                                    "limits": {"cpu": "1", "memory": "512Mi"},
                                },
                                "securityContext": {**container_security(), "runAsUser": 1000, "runAsGroup": 1000},
                                "volumeMounts": [
                                    {"name": "script", "mountPath": "/tessera", "readOnly": True},
                                    TMP_MOUNT,
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "script", "configMap": {"name": "kafka-topics", "defaultMode": 0o555}},
                            TMP_VOLUME,
                        ],
                    },
                },
            },
        },
    ]


def secrets_documents() -> list[dict[str, Any]]:
    """Templates only: every value is a REPLACE-ME placeholder, and kustomize does not apply them."""
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("tessera-jwt", "tessera", "config"),
            "type": "Opaque",
            "stringData": {"JWT_SIGNING_KEY": f"{PLACEHOLDER}-at-least-32-random-characters"},
        }
    ]
    for s in SERVICES:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta(f"tessera-{s.name}", s.name, "config"),
                "type": "Opaque",
                "stringData": {"DATABASE_URL": _db_url(s.name), **s.secrets},
            }
        )
    return docs


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = "# Generated by deploy/k8s/render.py: edit that, then run it (tests/ops fails when stale).\n"


def dump(docs: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.dump(d, Dumper=_Dumper, sort_keys=False, width=120) for d in docs)


def files() -> dict[str, str]:
    out = {
        "namespace.yaml": dump(common_documents()),
        "kafka-topics.yaml": dump(topics_documents()),
        "secrets.example.yaml": (
            "# TEMPLATE ONLY, NOT APPLIED BY KUSTOMIZE: copy it out of the repository, replace every\n"
            "# REPLACE-ME value, and apply it yourself (or create the same Secrets with your secret\n"
            "# manager: External Secrets, Sealed Secrets, Vault). Never commit a filled-in copy.\n"
            + dump(secrets_documents())
        ),
    }
    for s in SERVICES:
        out[f"{s.name}.yaml"] = dump(service_documents(s))
    resources = ["namespace.yaml", "kafka-topics.yaml", *[f"{s.name}.yaml" for s in SERVICES]]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        "images": [{"name": f"tessera/{s.name}", "newTag": VERSION} for s in SERVICES],
    }
    out["kustomization.yaml"] = HEADER + yaml.dump(kustomization, Dumper=_Dumper, sort_keys=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when a file here is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in files().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python deploy/k8s/render.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
