"""The Helm chart in deploy/helm/kinora: lint, render, Kubernetes schemas and policy.

Rendering uses helm-python-sdk (Helm's Go SDK through ctypes), so no helm binary or
cluster is needed. Built-in kinds are validated with kubernetes-validate (strict);
CRD kinds (KEDA, Prometheus operator, Gateway API) have no schema there, so their
structure is checked against what the rest of the rendered release defines.
"""

from __future__ import annotations

import re

import helm_python as helm
import kubernetes_validate
import pytest
from chart_release import (
    CHART,
    CRD_GROUPS,
    EXPECTED_CALLERS,
    KUBE_VERSION,
    RELEASE,
    SERVICES,
    VARIANTS,
    Release,
    _env,
    _pod_spec,
    _render,
    _selects,
    _variant_values,
    _workloads,
)

# --- lint and render -------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_chart_lints_clean_in_strict_mode(variant):
    report = helm.lint(CHART, _variant_values(variant), strict=True, kube_version=f"v{KUBE_VERSION}.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_every_variant_renders_all_parts(release):
    kinds = {d["kind"] for d in release.docs}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Job",
        "ScaledObject",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        "Ingress",
        "PersistentVolumeClaim",
    } <= kinds
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
            values["startupProbe"]["periodSeconds"] * values["startupProbe"]["failureThreshold"]
        )
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
        metrics_port = next(
            p["containerPort"] for p in _pod_spec(doc)["containers"][0]["ports"] if p["name"] == "metrics"
        )
        assert (prometheus_selector, [metrics_port]) in namespace_rules, name
        # Only the gateway takes traffic from outside the release (the ingress data plane).
        outside = [r for r in namespace_rules if r[0] != prometheus_selector]
        if role == "gateway":
            assert outside == [
                (release.merged["networkPolicy"]["ingressNamespaceSelector"], [release.merged["ports"]["http"]])
            ]
        else:
            assert outside == [], name


def test_env_points_at_rendered_services_and_secrets(release):
    service_ports = {
        s["metadata"]["name"]: {p["name"]: p["port"] for p in s["spec"]["ports"]} for s in release.of("Service")
    }

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
            job["metadata"]["annotations"]["helm.sh/hook-weight"]
        )


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
    (
        {"modelPools": {"worldsim": {"resources": {"limits": {"memory": "1Gi", "nvidia.com/gpu": 1}}}}},
        "/modelPools/worldsim/resources/limits",
    ),
    (
        {"modelPools": {"ltx2": {"enabled": True, "scaling": {"minReplicas": 5, "maxReplicas": 2}}}},
        "modelPools.ltx2.scaling: minReplicas (5) is greater than maxReplicas (2)",
    ),
    (
        {"components": {"gateway": {"autoscaling": {"minReplicas": 9, "maxReplicas": 3}}}},
        "components.gateway.autoscaling: minReplicas (9) is greater than maxReplicas (3)",
    ),
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
