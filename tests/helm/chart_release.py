"""What the Helm chart tests share: the chart's paths, the values variants, the design's expectations
(callers, metrics) and `Release`, one rendered release with lookups by kind and name.

Rendering uses helm-python-sdk (Helm's Go SDK through ctypes), so no helm binary or cluster is needed."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "kinora"
DOCKER = REPO / "deploy" / "docker"
KUBE_VERSION = "1.33"
RELEASE = "kinora"

VARIANTS = {
    "default": None,
    "gpu-cloud": "values-gpu-cloud.yaml",
    "dev": "values-dev.yaml",
}
CRD_GROUPS = (
    "keda.sh/",
    "monitoring.coreos.com/",
    "gateway.networking.k8s.io/",
    "cert-manager.io/",
    "kafka.strimzi.io/",
)
SERVICES = ["identity", "cameo", "feed", "generator", "billing"]
# Who may call whom, straight from the design (ARCHITECTURE.md, issue 11).
EXPECTED_CALLERS = {
    "identity": {"gateway", "cameo", "feed", "generator", "billing", "generator-worker"},
    "cameo": {"gateway", "feed", "generator", "generator-worker"},
    "feed": {"gateway"},
    "generator": {"gateway"},
    "billing": {"gateway", "generator", "generator-worker"},
    "model-server": {"generator", "generator-worker"},
}
KNOWN_METRICS = {
    "kinora_generation_queue_depth",
    "kinora_generation_queue_wait_seconds_bucket",
    "kinora_generations_total",
    "kinora_generation_seconds_bucket",
    "kinora_generation_seconds_sum",
    "kinora_generation_seconds_count",
    "kinora_consumer_lag",
    "kinora_ledger_drift_minor_units",
    "kinora_consent_checks_total",
    "kinora_takedown_latency_seconds_bucket",
    "kinora_grpc_requests_total",
    "kinora_grpc_request_duration_seconds_bucket",
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses duplicate keys (the API server would reject them)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            assert key not in seen, f"duplicate key {key!r} at line {key_node.start_mark.line + 1}"
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _variant_values(variant: str) -> dict:
    filename = VARIANTS[variant]
    return yaml.safe_load((CHART / filename).read_text()) if filename else {}


def _render(values: dict) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace="kinora", is_install=True)


def _docs(manifests: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in manifests.items():
        if path.endswith(".txt"):
            continue
        docs.extend(d for d in yaml.load_all(text, Loader=_UniqueKeyLoader) if d)
    return docs


class Release:
    """A rendered release with lookups by kind and name."""

    def __init__(self, variant: str):
        self.values = _variant_values(variant)
        with helm.Chart.load(CHART) as chart:
            self.merged = chart.merge_values(self.values)
        self.docs = _docs(_render(self.values))

    def of(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [d for d in self.of(kind) if d["metadata"]["name"] == name]
        assert found, f"no {kind} named {name}"
        return found[0]

    def deployments_by_role(self, role: str) -> list[dict]:
        return [d for d in self.of("Deployment") if d["metadata"]["labels"].get("kinora.dev/role") == role]

    def enabled_pools(self) -> dict[str, dict]:
        return {name: p for name, p in self.merged["modelPools"].items() if p.get("enabled")}


def _pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def _workloads(release: Release) -> list[dict]:
    return release.of("Deployment") + release.of("Job")


def _selects(selector: dict, labels: dict) -> bool:
    expressions = {
        "Exists": lambda e: e["key"] in labels,
        "DoesNotExist": lambda e: e["key"] not in labels,
        "In": lambda e: labels.get(e["key"]) in e["values"],
        "NotIn": lambda e: labels.get(e["key"]) not in e["values"],
    }
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
        expressions[e["operator"]](e) for e in selector.get("matchExpressions", [])
    )
