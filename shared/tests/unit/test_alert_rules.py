"""The alert rules in deploy/prometheus name metrics the services really export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import tessera_shared.observability  # noqa: F401 - registers the metrics

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "tessera-alerts.yaml"


def test_alert_rules_name_exported_metrics() -> None:
    exported = {sample.name for metric in REGISTRY.collect() for sample in metric.samples} | {
        metric.name for metric in REGISTRY.collect()
    }
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {"TesseraOutboxPublishStalled"}
    for rule in rules:
        names = set(re.findall(r"\btessera_[a-z_]+", rule["expr"]))
        assert names and names <= exported, (rule["alert"], names - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
