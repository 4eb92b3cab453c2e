"""The Helm chart in deploy/helm/kinora: lint, render, Kubernetes schemas and policy.

Rendering uses helm-python-sdk (Helm's Go SDK through ctypes), so no helm binary or
cluster is needed. Built-in kinds are validated with kubernetes-validate (strict);
CRD kinds (KEDA, Prometheus operator, Gateway API) have no schema there, so their
structure is checked against what the rest of the rendered release defines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
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
CRD_GROUPS = ("keda.sh/", "monitoring.coreos.com/", "gateway.networking.k8s.io/", "cert-manager.io/",
              "kafka.strimzi.io/")
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
    "kinora_generation_queue_depth", "kinora_generation_queue_wait_seconds_bucket",
    "kinora_generations_total", "kinora_generation_seconds_bucket",
    "kinora_generation_seconds_sum", "kinora_generation_seconds_count",
    "kinora_consumer_lag", "kinora_ledger_drift_minor_units", "kinora_consent_checks_total",
    "kinora_takedown_latency_seconds_bucket", "kinora_grpc_requests_total",
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


@pytest.fixture(scope="module", params=list(VARIANTS))
def release(request) -> Release:
    return Release(request.param)


def _pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


# --- lint and render -------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_chart_lints_clean_in_strict_mode(variant):
    report = helm.lint(CHART, _variant_values(variant), strict=True, kube_version=f"v{KUBE_VERSION}.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_every_variant_renders_all_parts(release):
    kinds = {d["kind"] for d in release.docs}
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy",
            "Job", "ScaledObject", "ServiceMonitor", "PrometheusRule", "ConfigMap",
            "Ingress", "PersistentVolumeClaim"} <= kinds
    names = {d["metadata"]["name"] for d in release.of("Deployment")}
    assert {f"{RELEASE}-{s}" for s in SERVICES + ["gateway"]} <= names
    for pool in release.enabled_pools():
        assert {f"{RELEASE}-model-{pool}", f"{RELEASE}-generator-worker-{pool}"} <= names


def test_builtin_kinds_validate_against_kubernetes_schemas(release):
    checked = 0
    for doc in release.docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue  # no schema in kubernetes-validate; see the CRD structure tests below
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, error.path))}: {error.message}")
        checked += 1
    assert checked > 40


# --- policy over the rendered output ------------------------------------------------------


def _workloads(release: Release) -> list[dict]:
    return release.of("Deployment") + release.of("Job")


def test_every_container_has_resources_and_hardening(release):
    for doc in _workloads(release):
        pod = _pod_spec(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod["automountServiceAccountToken"] is False, where
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in tmp_volumes, f"{where}: /tmp must be a writable emptyDir"


def test_every_long_running_container_has_probes(release):
    for doc in release.of("Deployment"):
        for container in _pod_spec(doc)["containers"]:
            where = f"{doc['metadata']['name']}/{container['name']}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{where} lacks {probe}"


def test_grpc_services_use_native_grpc_probes(release):
    """On the plaintext health port: kubelet presents no client certificate to the mTLS port."""
    for name in SERVICES:
        container = _pod_spec(release.get("Deployment", f"{RELEASE}-{name}"))["containers"][0]
        health_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "health")
        assert _env(container)["KINORA_HEALTH_PORT"]["value"] == str(health_port)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == health_port
    gateway = _pod_spec(release.get("Deployment", f"{RELEASE}-gateway"))["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"


def _selects(selector: dict, labels: dict) -> bool:
    expressions = {"Exists": lambda e: e["key"] in labels, "DoesNotExist": lambda e: e["key"] not in labels,
                   "In": lambda e: labels.get(e["key"]) in e["values"],
                   "NotIn": lambda e: labels.get(e["key"]) not in e["values"]}
    return (all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
            and all(expressions[e["operator"]](e) for e in selector.get("matchExpressions", [])))


def test_every_deployment_has_a_pod_disruption_budget(release):
    budgets = release.of("PodDisruptionBudget")
    for doc in release.of("Deployment"):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(b["spec"]["selector"], labels) for b in budgets), doc["metadata"]["name"]


def test_cpu_services_autoscale_on_cpu_and_pools_on_the_queue(release):
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in release.of("HorizontalPodAutoscaler")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in release.of("ScaledObject")}
    for name in SERVICES + ["gateway"]:
        deployment = f"{RELEASE}-{name}"
        wanted = release.merged["components"][name]["autoscaling"]["enabled"]
        assert (deployment in hpas) == wanted, deployment
        if wanted:
            metric = hpas[deployment]["spec"]["metrics"][0]["resource"]
            assert metric["name"] == "cpu"
            assert "replicas" not in release.get("Deployment", deployment)["spec"]
        assert deployment not in scaled
    for pool in release.enabled_pools():
        for deployment in (f"{RELEASE}-model-{pool}", f"{RELEASE}-generator-worker-{pool}"):
            assert deployment in scaled and deployment not in hpas, deployment


def test_model_pools_request_gpus_and_have_scaled_objects(release):
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in release.of("ScaledObject")}
    for pool, values in release.enabled_pools().items():
        deployment = release.get("Deployment", f"{RELEASE}-model-{pool}")
        pod = _pod_spec(deployment)
        container = pod["containers"][0]
        gpu_limit = container["resources"]["limits"].get("nvidia.com/gpu")
        if values["gpus"]:
            assert gpu_limit == values["gpus"], pool
            assert pod.get("tolerations"), f"GPU pool {pool} must tolerate GPU node taints"
            # A surge replica would need a spare GPU.
            assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
        else:
            assert gpu_limit is None, pool
        startup = container["startupProbe"]
        assert startup["httpGet"]["path"] == "/v2/health/ready"
        assert startup["periodSeconds"] * startup["failureThreshold"] == (
            values["startupProbe"]["periodSeconds"] * values["startupProbe"]["failureThreshold"])
        assert container["args"][:2] == ["--model", values["model"]]
        for target in (f"{RELEASE}-model-{pool}", f"{RELEASE}-generator-worker-{pool}"):
            spec = scaled[target]["spec"]
            assert spec["minReplicaCount"] <= spec["maxReplicaCount"]
            queries = [t["metadata"]["query"] for t in spec["triggers"]]
            assert all(t["type"] == "prometheus" for t in spec["triggers"])
            assert any("kinora_generation_queue_depth" in q for q in queries)
            assert any("kinora_generation_queue_wait_seconds_bucket" in q for q in queries)
            assert all(f'model="{values["model"]}"' in q for q in queries)
            for trigger in spec["triggers"]:
                float(trigger["metadata"]["threshold"])  # KEDA wants a numeric string


def test_gpu_cloud_ltx2_pool_is_production_shaped():
    release = Release("gpu-cloud")
    pod = _pod_spec(release.get("Deployment", f"{RELEASE}-model-ltx2"))
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["memory"] == "64Gi"
    assert pod["nodeSelector"]["kinora.dev/gpu-pool"] == "ltx2"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1200, "model load needs a long startup probe"
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    store = next(v for v in pod["volumes"] if v["name"] == "model-store")
    assert store["persistentVolumeClaim"]["readOnly"] is True


def test_dev_values_are_small_and_cpu_only():
    release = Release("dev")
    assert set(release.enabled_pools()) == {"worldsim"}
    assert release.of("HorizontalPodAutoscaler") == []
    for doc in release.of("Deployment"):
        assert doc["spec"].get("replicas", 1) <= 1
        limits = _pod_spec(doc)["containers"][0]["resources"]["limits"]
        assert "nvidia.com/gpu" not in limits
    scaled = release.get("ScaledObject", f"{RELEASE}-model-worldsim")
    assert scaled["spec"]["minReplicaCount"] == 0, "dev pool scales to zero when idle"


def test_only_the_gateway_is_exposed(release):
    for service in release.of("Service"):
        if service["metadata"]["name"] != f"{RELEASE}-gateway":
            assert service["spec"]["type"] == "ClusterIP", service["metadata"]["name"]
    for ingress in release.of("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == f"{RELEASE}-gateway"
    for route in release.of("HTTPRoute"):
        for rule in route["spec"]["rules"]:
            assert {b["name"] for b in rule["backendRefs"]} == {f"{RELEASE}-gateway"}


def test_network_policies_admit_only_the_designed_callers(release):
    policies = {p["metadata"]["name"]: p for p in release.of("NetworkPolicy")}
    prometheus_selector = release.merged["networkPolicy"]["prometheusNamespaceSelector"]
    for doc in release.of("Deployment"):
        name = doc["metadata"]["name"]
        role = doc["metadata"]["labels"]["kinora.dev/role"]
        policy = policies[name]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert _selects(policy["spec"]["podSelector"], doc["spec"]["template"]["metadata"]["labels"])
        callers, namespace_rules = set(), []
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                if "podSelector" in peer:
                    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == RELEASE
                    callers.add(peer["podSelector"]["matchLabels"]["kinora.dev/role"])
                else:
                    assert set(peer) == {"namespaceSelector"}, f"{name}: unexpected peer {peer}"
                    namespace_rules.append((peer["namespaceSelector"], [p["port"] for p in rule["ports"]]))
        assert callers == EXPECTED_CALLERS.get(role, set()), name
        metrics_port = next(p["containerPort"] for p in _pod_spec(doc)["containers"][0]["ports"]
                            if p["name"] == "metrics")
        assert (prometheus_selector, [metrics_port]) in namespace_rules, name
        # Only the gateway takes traffic from outside the release (the ingress data plane).
        outside = [r for r in namespace_rules if r[0] != prometheus_selector]
        if role == "gateway":
            assert outside == [(release.merged["networkPolicy"]["ingressNamespaceSelector"],
                                [release.merged["ports"]["http"]])]
        else:
            assert outside == [], name


def test_env_points_at_rendered_services_and_secrets(release):
    service_ports = {s["metadata"]["name"]: {p["name"]: p["port"] for p in s["spec"]["ports"]}
                     for s in release.of("Service")}

    headless = {s["metadata"]["name"] for s in release.of("Service") if s["spec"].get("clusterIP") == "None"}

    def assert_addr(value: str, port_name: str):
        host, port = value.removeprefix("dns:///").rsplit(":", 1)
        if value.startswith("dns:///"):  # gRPC services: a headless Service, resolved to every ready pod
            host, suffix = host.split(".", 1)
            assert host in headless and suffix == "kinora.svc.cluster.local", value
        assert host in service_ports and service_ports[host][port_name] == int(port), value

    for doc in release.of("Deployment"):
        role = doc["metadata"]["labels"]["kinora.dev/role"]
        env = _env(_pod_spec(doc)["containers"][0])
        assert env["OTEL_SERVICE_NAME"]["value"] == role
        if role == "model-server":
            continue
        for target in SERVICES:
            assert env[f"KINORA_{target.upper()}_ADDR"]["value"].startswith("dns:///")
            assert_addr(env[f"KINORA_{target.upper()}_ADDR"]["value"], "grpc")
        assert re.fullmatch(r"[\w.\-]+:\d+(,[\w.\-]+:\d+)*", env["KINORA_KAFKA_BOOTSTRAP"]["value"])
        if role != "gateway":
            secret = env["KINORA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert secret["key"] == ("generator" if role == "generator-worker" else role)
        if role == "generator-worker":
            assert_addr(env["KINORA_TRITON_ADDR"]["value"], "grpc")
            pool = doc["spec"]["template"]["metadata"]["labels"]["kinora.dev/pool"]
            assert env["KINORA_TRITON_ADDR"]["value"].startswith(f"{RELEASE}-model-{pool}:")
            assert env["KINORA_WORKER_POOL"]["value"] == pool
            assert f"{pool}=" in env["KINORA_GENERATOR_POOLS"]["value"]
        if role in ("generator", "generator-worker"):
            assert env["KINORA_BLOB_DIR"]["value"] == "/var/lib/kinora/blobs"
            assert env["KINORA_C2PA_KEY_FILE"]["value"].startswith("/var/run/kinora/c2pa/")
    identity = _env(_pod_spec(release.get("Deployment", f"{RELEASE}-identity"))["containers"][0])
    assert identity["KINORA_JWT_PRIVATE_KEYS_DIR"]["value"] == "/var/run/kinora/jwt"
    gateway = _env(_pod_spec(release.get("Deployment", f"{RELEASE}-gateway"))["containers"][0])
    assert "KINORA_REDIS_URL" in gateway


def test_migrations_run_as_hooks_one_per_database(release):
    jobs = {j["metadata"]["name"]: j for j in release.of("Job")}
    assert set(jobs) == {f"{RELEASE}-migrate-{s}" for s in SERVICES}
    for service in SERVICES:
        job = jobs[f"{RELEASE}-migrate-{service}"]
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        container = _pod_spec(job)["containers"][0]
        assert container["command"] == ["python", "-m", f"services.{service}", "migrate"]
        assert _env(container)["KINORA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == service
        # Hooks run before regular objects exist, so their ServiceAccount is a hook too.
        account = release.get("ServiceAccount", _pod_spec(job)["serviceAccountName"])
        assert "pre-install" in account["metadata"]["annotations"]["helm.sh/hook"]
        assert int(account["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            job["metadata"]["annotations"]["helm.sh/hook-weight"])


# --- CRDs: structure checked against the rest of the release -------------------------------


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(kinora_[a-z_]+)\b", expr))


def test_service_monitor_scrapes_every_metrics_port(release):
    (monitor,) = release.of("ServiceMonitor")
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    for service in release.of("Service"):
        headless = service["spec"].get("clusterIP") == "None"
        assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"]) != headless
        assert headless or "metrics" in {p["name"] for p in service["spec"]["ports"]}


def test_prometheus_rule_has_the_required_alerts(release):
    (rule,) = release.of("PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"KinoraQueueWaitP95High", "KinoraGenerationFailureRateHigh", "KinoraConsumerLagHigh",
            "KinoraLedgerDrift", "KinoraConsentCheckErrors", "KinoraTakedownLatencyHigh"} <= set(alerts)
    for name, alert in alerts.items():
        assert re.fullmatch(r"\d+[smh]", alert["for"]), name
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert _metric_names(alert["expr"]) <= KNOWN_METRICS, name
        assert alert["expr"].count("(") == alert["expr"].count(")"), name
    assert "!= 0" in alerts["KinoraLedgerDrift"]["expr"]
    # Alert templates must reach Prometheus unexpanded by Helm.
    assert "{{ $labels.model }}" in alerts["KinoraQueueWaitP95High"]["annotations"]["summary"]


def test_grafana_dashboard_is_valid_json_over_known_metrics(release):
    config_maps = [c for c in release.of("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(config_maps) == 1
    dashboard = json.loads(config_maps[0]["data"]["kinora-overview.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used <= KNOWN_METRICS
    assert {"kinora_generation_queue_depth", "kinora_generation_seconds_bucket",
            "kinora_ledger_drift_minor_units", "kinora_grpc_requests_total"} <= used


def test_http_route_and_cert_manager_alternative():
    values = {
        "ingress": {"enabled": True, "tls": {"enabled": True, "secretName": "edge-tls",
                                             "certManagerClusterIssuer": "letsencrypt"}},
        "httpRoute": {"enabled": True, "hostnames": ["v.example.com"],
                      "parentRefs": [{"name": "public", "namespace": "gw", "sectionName": "https"}]},
    }
    docs = _docs(_render(values))
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"][0]["secretName"] == "edge-tls"
    (route,) = [d for d in docs if d["kind"] == "HTTPRoute"]
    assert route["spec"]["parentRefs"][0]["name"] == "public"
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": f"{RELEASE}-gateway", "port": 8080}]


def test_gateway_alone_may_use_a_load_balancer():
    docs = _docs(_render({"components": {"gateway": {"service": {"type": "LoadBalancer"}}}}))
    types = {d["metadata"]["name"]: d["spec"]["type"] for d in docs if d["kind"] == "Service"}
    assert types.pop(f"{RELEASE}-gateway") == "LoadBalancer"
    assert set(types.values()) == {"ClusterIP"}


def test_gateway_believes_forwarded_headers_only_from_configured_proxies():
    from kinora.runtime.settings import load_settings
    from services.gateway.settings import GatewaySettings

    def gateway_env(values: dict) -> dict[str, dict]:
        docs = _docs(_render(values))
        gateway = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-gateway")
        return _env(_pod_spec(gateway)["containers"][0])

    assert "KINORA_TRUSTED_PROXIES" not in gateway_env({}), "by default no proxy is believed"
    env = gateway_env({"edge": {"trustedProxies": ["10.42.0.0/16", "fd00:42::/56"]}})
    value = env["KINORA_TRUSTED_PROXIES"]["value"]
    parsed = load_settings(GatewaySettings, {"KINORA_TRUSTED_PROXIES": value}).trusted_proxies
    assert [str(n) for n in parsed] == ["10.42.0.0/16", "fd00:42::/56"]


def test_ingress_body_size_matches_the_gateway_caps():
    from kinora.runtime.settings import load_settings
    from services.gateway.bodylimit import FORM_ENVELOPE_BYTES
    from services.gateway.settings import GatewaySettings

    for values in ({}, {"edge": {"maxBodyMiB": {"video": 50, "image": 20, "json": 2}}}):
        docs = _docs(_render(values))
        gateway = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-gateway")
        env = {k: v["value"] for k, v in _env(_pod_spec(gateway)["containers"][0]).items() if "BODY_MAX" in k}
        caps = load_settings(GatewaySettings, env)
        largest = max(caps.body_max_video_bytes, caps.body_max_image_bytes, caps.body_max_json_bytes)
        (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
        size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        # nginx lets through every body the gateway accepts (a file at the cap plus its form), no more.
        assert largest + FORM_ENVELOPE_BYTES <= int(size.removesuffix("m")) * 2**20 <= largest + 2**20, size
    assert caps.body_max_video_bytes == 50 * 2**20 and caps.body_max_json_bytes == 2 * 2**20
    own = {"ingress": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}}}
    (ingress,) = [d for d in _docs(_render(own)) if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"


def test_without_keda_pools_run_a_fixed_size():
    docs = _docs(_render({"keda": {"enabled": False}}))
    assert not [d for d in docs if d["kind"] == "ScaledObject"]
    model = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-model-worldsim")
    assert model["spec"]["replicas"] == 1


# --- bad values are refused with a message naming the problem ------------------------------

BAD_VALUES = [
    ({"components": {"identity": {"replicas": "two"}}}, "/components/identity/replicas"),
    ({"components": {"cameo": {"service": {"type": "LoadBalancer"}}}}, "value must be 'ClusterIP'"),
    ({"components": {"feed": {"resources": {"requests": {"cpu": "lots"}}}}}, "/components/feed/resources/requests/cpu"),
    # null deletes a default in Helm: a container without a memory request is refused.
    ({"components": {"billing": {"resources": {"requests": {"memory": None}}}}}, "missing property 'memory'"),
    ({"components": {"billing": {"allowFrom": ["everyone"]}}}, "/components/billing/allowFrom/0"),
    ({"external": {"kafka": {"bootstrap": "kafka"}}}, "/external/kafka/bootstrap"),
    ({"external": {"otlp": {"endpoint": "collector:4317"}}}, "/external/otlp/endpoint"),
    ({"external": {"redis": {"url": "", "secretName": ""}}}, "/external/redis/url"),
    ({"modelPools": {"ltx2": {"enabled": True, "gpus": -1}}}, "/modelPools/ltx2/gpus"),
    ({"modelPools": {"ltx2": {"enabled": True, "gpu": 1}}}, "additional properties 'gpu' not allowed"),
    ({"modelPools": {"Big_Pool": {"enabled": False}}}, "Big_Pool"),
    ({"modelPools": {"worldsim": {"resources": {"limits": {"memory": "1Gi", "nvidia.com/gpu": 1}}}}},
     "/modelPools/worldsim/resources/limits"),
    ({"modelPools": {"ltx2": {"enabled": True, "scaling": {"minReplicas": 5, "maxReplicas": 2}}}},
     "modelPools.ltx2.scaling: minReplicas (5) is greater than maxReplicas (2)"),
    ({"components": {"gateway": {"autoscaling": {"minReplicas": 9, "maxReplicas": 3}}}},
     "components.gateway.autoscaling: minReplicas (9) is greater than maxReplicas (3)"),
    ({"image": {"tag": "latest"}}, "image tag 'latest' is refused"),
    ({"podSecurity": {"runAsUser": 0}}, "/podSecurity/runAsUser"),
    ({"ingress": {"tls": {"enabled": True, "secretName": ""}}}, "/ingress/tls/secretName"),
    ({"logLevel": "LOUD"}, "/logLevel"),
    ({"edge": {"trustedProxies": ["ingress-nginx"]}}, "/edge/trustedProxies/0"),
    ({"edge": {"maxBodyMiB": {"json": 0}}}, "/edge/maxBodyMiB/json"),
    ({"replicaCount": 3}, "additional properties 'replicaCount' not allowed"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_bad_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(helm.HelmError) as refused:
        _render(values)
    assert message in str(refused.value)


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ["services.Dockerfile", "model-server.Dockerfile"])
def test_dockerfiles_are_multi_stage_pinned_and_non_root(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage build"
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", base), base
    users = re.findall(r"^USER (\S+)$", text, re.M)
    uid = int(yaml.safe_load((CHART / "values.yaml").read_text())["podSecurity"]["runAsUser"])
    assert users and users[-1] == f"{uid}:{uid}", "runtime stage runs as the chart's non-root uid"
    assert (DOCKER / f"{dockerfile}.dockerignore").exists()


def test_no_variant_turns_on_development_payments_or_service_invites(release):
    """The test payment provider pays for anything and service invites are unlimited: both are
    development settings (`kinora up`), never set by the chart (issue 20)."""
    for doc in _workloads(release):
        for container in _pod_spec(doc).get("containers", []):
            env = _env(container)
            assert "KINORA_BILLING_DEV_PAYMENTS" not in env and "KINORA_BILLING_TEST_PROVIDER_SECRET" not in env
            assert env.get("KINORA_SERVICE_INVITES", {}).get("value", "false") == "false"
            assert "KINORA_EGRESS_DEVELOPMENT" not in env


STRIPE_SECRETS = ("KINORA_BILLING_STRIPE_SECRET_KEY", "KINORA_BILLING_STRIPE_WEBHOOK_SECRET")


def test_no_stripe_secret_has_a_default(release):
    """Stripe's keys reach billing from a Secret only (issue 20): the chart's values hold the
    Secret's name and key names, never key material, and no variant sets one by value."""
    stripe = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]["stripe"]
    assert stripe["secretName"] == "" and stripe["proPrice"] == ""
    assert not [v for v in stripe.values() if str(v).startswith(("sk_", "rk_", "whsec_", "pk_"))]
    for doc in _workloads(release):
        for container in _pod_spec(doc).get("containers", []) + _pod_spec(doc).get("initContainers", []):
            env = _env(container)
            for name in STRIPE_SECRETS:
                assert "value" not in env.get(name, {}), (doc["metadata"]["name"], name)
            for item in env.values():
                assert not str(item.get("value", "")).startswith(("sk_live", "sk_test", "rk_live", "whsec_"))
    if not release.merged["secrets"]["stripe"]["secretName"]:  # no provider configured: none rendered
        billing = _env(_pod_spec(release.get("Deployment", f"{RELEASE}-billing"))["containers"][0])
        assert not set(STRIPE_SECRETS) & set(billing)


def test_stripe_keys_come_from_the_named_secret_for_billing_only():
    values = {"secrets": {"stripe": {"secretName": "kinora-stripe", "proPrice": "price_1Pro"}}}
    docs = _docs(_render(values))
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job", "CronJob"):
            continue
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        env = _env(spec["template"]["spec"]["containers"][0])
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"{RELEASE}-billing":
            assert env["KINORA_BILLING_STRIPE_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
                "name": "kinora-stripe", "key": "secret-key"}
            assert env["KINORA_BILLING_STRIPE_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
                "name": "kinora-stripe", "key": "webhook-secret"}
            assert env["KINORA_BILLING_STRIPE_PRO_PRICE"]["value"] == "price_1Pro"
        else:
            assert not [n for n in env if n.startswith("KINORA_BILLING_STRIPE_")], doc["metadata"]["name"]
    with pytest.raises(helm.HelmError, match="/secrets/stripe/proPrice"):
        _render({"secrets": {"stripe": {"secretName": "kinora-stripe", "proPrice": "sk_live_oops"}}})
    with pytest.raises(helm.HelmError, match="additional properties 'secretKey' not allowed"):
        _render({"secrets": {"stripe": {"secretName": "kinora-stripe", "secretKey": "sk_live_inline"}}})


def test_watermark_key_and_c2pa_trust_come_from_secrets_to_who_needs_them(release):
    """Model servers draw the invisible mark, the gateway and generator read it, generator workers
    re-draw it on a stitch: all with the key from the Secret (the code's development key is public).
    The gateway gets the C2PA chain to trust this deployment's manifests, never the signing key."""
    secrets = release.merged["secrets"]
    for doc in release.of("Deployment"):
        name, role = doc["metadata"]["name"], doc["metadata"]["labels"]["kinora.dev/role"]
        env = _env(_pod_spec(doc)["containers"][0])
        if role in ("model-server", "gateway", "generator", "generator-worker"):
            assert env["KINORA_WATERMARK_KEY"]["valueFrom"]["secretKeyRef"] == {
                "name": secrets["watermark"]["secretName"], "key": secrets["watermark"]["key"]}, name
        else:
            assert "KINORA_WATERMARK_KEY" not in env, name
        if role == "gateway":
            (trust,) = [v for v in _pod_spec(doc)["volumes"] if v["name"] == "c2pa-trust"]
            assert [i["key"] for i in trust["secret"]["items"]] == [secrets["c2pa"]["certFile"]]
            assert env["KINORA_C2PA_CERT_FILE"]["value"].endswith(secrets["c2pa"]["certFile"])
            assert "KINORA_C2PA_KEY_FILE" not in env


# --- service identity: certificates, Kafka users, the gateway's egress (issue 20 part 2) -----

def _identity_of(doc: dict) -> str:
    role = doc["metadata"]["labels"]["kinora.dev/role"]
    return "generator" if role == "generator-worker" else role


def _volume_secret(doc: dict, volume: str) -> str:
    (found,) = [v["secret"]["secretName"] for v in _pod_spec(doc)["volumes"] if v["name"] == volume]
    return found


def test_every_service_has_its_certificate_and_requires_mutual_tls(release):
    """Each service (and the gateway, and the workers as the generator) mounts a certificate
    that names it, spiffe://kinora/<service>, and refuses to start without mutual TLS."""
    assert release.merged["tls"]["enabled"], "mutual TLS is on by default in every variant"
    certificates = {c["spec"]["secretName"]: c for c in release.of("Certificate")}
    assert {c["spec"]["uris"][0] for c in certificates.values()} == {
        f"spiffe://kinora/{n}" for n in [*SERVICES, "gateway", "admin"]}
    issuer = release.merged["tls"]["issuerRef"]
    for doc in release.of("Deployment"):
        if doc["metadata"]["labels"]["kinora.dev/role"] == "model-server":
            continue  # Triton: called by the generator over its own gRPC, outside this scheme
        container = _pod_spec(doc)["containers"][0]
        env, who = _env(container), _identity_of(doc)
        assert env["KINORA_REQUIRE_MTLS"]["value"] == "true", doc["metadata"]["name"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "service-tls")
        for var, file in (("CERT", "tls.crt"), ("KEY", "tls.key"), ("CA", "ca.crt")):
            assert env[f"KINORA_TLS_{var}_FILE"]["value"] == f"{mount['mountPath']}/{file}"
        assert "subPath" not in mount, "a subPath mount never sees a renewed certificate"
        cert = certificates[_volume_secret(doc, "service-tls")]
        assert cert["spec"]["uris"] == [f"spiffe://kinora/{who}"] and cert["spec"]["commonName"] == who
        assert cert["spec"]["issuerRef"]["name"] == issuer["name"]
        assert {"server auth", "client auth"} <= set(cert["spec"]["usages"])
        for name in SERVICES:  # a server's certificate carries the name its clients dial
            if who == name:
                host = env[f"KINORA_{name.upper()}_ADDR"]["value"].removeprefix("dns:///").rsplit(":", 1)[0]
                assert host in cert["spec"]["dnsNames"]


def test_certificates_can_come_from_existing_secrets():
    docs = _docs(_render({"tls": {"source": "existingSecrets", "existingSecrets": {"billing": "my-billing-cert"}}}))
    assert not [d for d in docs if d["kind"] == "Certificate"]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert _volume_secret(deployments[f"{RELEASE}-billing"], "service-tls") == "my-billing-cert"
    assert _volume_secret(deployments[f"{RELEASE}-feed"], "service-tls") == f"{RELEASE}-feed-tls"


def code_topics() -> dict[str, dict[str, set[str]]]:
    """Which topics each service writes (its outbox topics) and reads, from the code."""
    from services.billing import domain as billing
    from services.billing import handlers as billing_handlers
    from services.cameo import domain as cameo
    from services.cameo import server as cameo_server
    from services.feed import domain as feed
    from services.feed import server as feed_server
    from services.generator import domain as generator
    from services.generator import server as generator_server
    from services.identity import domain as identity
    from services.identity import handlers as identity_handlers

    return {
        "identity": {"writes": {identity.USERS_TOPIC, identity.VERIFICATIONS_TOPIC},
                     "reads": set(identity_handlers.CONSUME_TOPICS)},
        "cameo": {"writes": set(cameo.TOPICS), "reads": set(cameo_server.CONSUME_TOPICS)},
        "feed": {"writes": {feed.POSTS_TOPIC, feed.GRAPH_TOPIC}, "reads": set(feed_server.CONSUME_TOPICS)},
        "generator": {"writes": {generator.GENERATIONS_TOPIC, generator.DEMAND_TOPIC},
                      "reads": {generator_server.TAKEDOWN_TOPIC, generator_server.CONSENT_TOPIC}},
        "billing": {"writes": {billing.TOPIC_USAGE, billing.TOPIC_PAYMENTS, billing.TOPIC_RECONCILIATION},
                    "reads": set(billing_handlers.CONSUME_TOPICS)},
    }


def _acls(user: dict) -> dict[str, set[str]]:
    """operation -> topics (or 'group:<name>') the user's ACLs allow."""
    allowed: dict[str, set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource["patternType"] == "literal" and "*" not in resource["name"], resource
        target = resource["name"] if resource["type"] == "topic" else f"{resource['type']}:{resource['name']}"
        for op in acl["operations"]:
            allowed.setdefault(op, set()).add(target)
    return allowed


def test_every_service_has_a_kafka_user_that_writes_only_its_own_topics(release):
    kafka = release.merged["external"]["kafka"]
    if not kafka["strimzi"]["enabled"]:
        pytest.skip("this variant's Kafka has no Strimzi users")
    truth = code_topics()
    users = {u["metadata"]["labels"]["kinora.dev/identity"]: u for u in release.of("KafkaUser")}
    assert set(users) == set(SERVICES)
    for name, user in users.items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["strimzi"]["cluster"]
        assert user["spec"]["authentication"]["type"] == {"tls": "tls", "scram-sha-512": "scram-sha-512"}[
            kafka["authentication"]]
        acls = _acls(user)
        assert acls["Write"] == truth[name]["writes"], name  # its own topics, all of them, no other
        assert acls.get("Create", set()) <= truth[name]["writes"]
        assert {t for t in acls["Read"] if not t.startswith("group:")} == truth[name]["reads"], name
        assert {t for t in acls["Read"] if t.startswith("group:")} == {f"group:{name}"}  # its consumer group
        assert set(acls) <= {"Write", "Create", "Read", "Describe"}, name
        # The service's pods authenticate as this user.
        doc = release.get("Deployment", f"{RELEASE}-{name}")
        env = _env(_pod_spec(doc)["containers"][0])
        assert env["KINORA_KAFKA_SECURITY_PROTOCOL"]["value"] == "SSL"
        assert _volume_secret(doc, "kafka-user") == user["metadata"]["name"]  # Strimzi's Secret of the user
        for var in ("KINORA_KAFKA_CA_FILE", "KINORA_KAFKA_CERT_FILE", "KINORA_KAFKA_KEY_FILE"):
            assert env[var]["value"].startswith("/var/run/kinora/kafka")
    writers = [t for u in users.values() for t in _acls(u)["Write"]]
    assert len(writers) == len(set(writers)), "a topic has one writer"
    topics = {t["spec"]["topicName"]: t["metadata"]["labels"]["kinora.dev/owner"] for t in release.of("KafkaTopic")}
    assert topics == {t: n for n, a in truth.items() for t in a["writes"]}


def test_scram_users_get_their_password_from_the_user_secret():
    docs = _docs(_render({"external": {"kafka": {"authentication": "scram-sha-512"}}}))
    users = [d for d in docs if d["kind"] == "KafkaUser"]
    assert {u["spec"]["authentication"]["type"] for u in users} == {"scram-sha-512"}
    feed = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-feed")
    env = _env(_pod_spec(feed)["containers"][0])
    assert env["KINORA_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["KINORA_KAFKA_USERNAME"]["value"] == f"{RELEASE}-feed"
    assert env["KINORA_KAFKA_PASSWORD_FILE"]["value"] == "/var/run/kinora/kafka/password"
    assert "KINORA_KAFKA_PASSWORD" not in env


def _admits(policy: dict, address: str, port: int) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        if port not in [p["port"] for p in rule.get("ports", [])]:
            continue
        for peer in rule["to"]:
            block = peer.get("ipBlock")
            if block and ip.version == ipaddress.ip_network(block["cidr"]).version \
                    and ip in ipaddress.ip_network(block["cidr"]) \
                    and not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


def test_the_gateway_reaches_only_dns_the_services_and_public_https(release):
    policy = release.get("NetworkPolicy", f"{RELEASE}-gateway-egress")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    gateway = release.get("Deployment", f"{RELEASE}-gateway")
    assert _selects(policy["spec"]["podSelector"], gateway["spec"]["template"]["metadata"]["labels"])
    rules = policy["spec"]["egress"]
    assert all(rule.get("to") and rule.get("ports") for rule in rules), "no rule admits everything"
    dns = [r for r in rules if {p["port"] for p in r["ports"]} == {53}]
    assert dns and {p["protocol"] for p in dns[0]["ports"]} == {"UDP", "TCP"}
    grpc_rule = next(r for r in rules if [p["port"] for p in r["ports"]] == [release.merged["ports"]["grpc"]])
    assert {p["podSelector"]["matchLabels"]["kinora.dev/role"] for p in grpc_rule["to"]} == set(SERVICES)
    for address in ("169.254.169.254", "169.254.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1",
                    "100.64.0.1", "fd00::1", "fe80::1", "::1"):
        assert not _admits(policy, address, 443), address
    assert _admits(policy, "93.184.216.34", 443) and _admits(policy, "2606:2800:220:1::1", 443)
    assert not _admits(policy, "93.184.216.34", 80), "webhooks are HTTPS only"
    # Address ranges open only HTTPS with the private ranges cut out, or a configured backend's
    # own ports (e.g. a managed Redis's subnet on 6379).
    backend_ports = {port for backend in release.merged["networkPolicy"]["gatewayEgress"]["backends"]
                     if backend.get("cidrs") for port in backend["ports"]}
    for rule in rules:
        blocks = [p["ipBlock"] for p in rule["to"] if "ipBlock" in p]
        ports = {p["port"] for p in rule["ports"]}
        if blocks and ports == {443}:
            assert all(b.get("except") for b in blocks)
        elif blocks:
            assert ports <= backend_ports and 443 not in ports, rule


def test_the_cluster_ranges_are_excluded_when_set():
    values = {"networkPolicy": {"gatewayEgress": {"clusterCidrs": ["203.0.113.0/24"]}}}
    policy = next(d for d in _docs(_render(values)) if d["metadata"]["name"] == f"{RELEASE}-gateway-egress")
    assert not _admits(policy, "203.0.113.7", 443)


SECRET_ENV = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|_KEY$")


def test_no_secret_has_a_default_value(release):
    """Secrets reach pods from Secrets only (secretKeyRef, or a mounted file named by *_FILE):
    no variant's values carry secret material, and no container gets one as a literal."""
    def leaves(node, path=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from leaves(v, (*path, str(k)))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from leaves(v, (*path, str(i)))
        else:
            yield path, node

    for path, value in leaves(release.merged):
        last = path[-1].lower() if path else ""
        if any(w in last for w in ("password", "token", "privatekey")) or last == "secret":
            assert value in ("", None), f"{'.'.join(path)} holds a value"
    for doc in _workloads(release):
        for container in _pod_spec(doc).get("containers", []) + _pod_spec(doc).get("initContainers", []):
            for name, item in _env(container).items():
                if SECRET_ENV.search(name) and not name.endswith("_FILE") and name != "KINORA_JWT_PRIVATE_KEYS_DIR":
                    assert "value" not in item, (doc["metadata"]["name"], name)
