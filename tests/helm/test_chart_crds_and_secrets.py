"""The Helm chart's CRDs (ServiceMonitor, PrometheusRule, Grafana dashboard, routes, KEDA), its
images, and where its secrets come from: checked against the rest of the rendered release."""

from __future__ import annotations

import json
import re

import helm_python as helm
import pytest
import yaml
from chart_release import CHART, DOCKER, KNOWN_METRICS, RELEASE, _docs, _env, _pod_spec, _render, _selects, _workloads

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
    assert {
        "KinoraQueueWaitP95High",
        "KinoraGenerationFailureRateHigh",
        "KinoraConsumerLagHigh",
        "KinoraLedgerDrift",
        "KinoraConsentCheckErrors",
        "KinoraTakedownLatencyHigh",
    } <= set(alerts)
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
    assert {
        "kinora_generation_queue_depth",
        "kinora_generation_seconds_bucket",
        "kinora_ledger_drift_minor_units",
        "kinora_grpc_requests_total",
    } <= used


def test_http_route_and_cert_manager_alternative():
    values = {
        "ingress": {
            "enabled": True,
            "tls": {"enabled": True, "secretName": "edge-tls", "certManagerClusterIssuer": "letsencrypt"},
        },
        "httpRoute": {
            "enabled": True,
            "hostnames": ["v.example.com"],
            "parentRefs": [{"name": "public", "namespace": "gw", "sectionName": "https"}],
        },
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
                "name": "kinora-stripe",
                "key": "secret-key",
            }
            assert env["KINORA_BILLING_STRIPE_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
                "name": "kinora-stripe",
                "key": "webhook-secret",
            }
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
                "name": secrets["watermark"]["secretName"],
                "key": secrets["watermark"]["key"],
            }, name
        else:
            assert "KINORA_WATERMARK_KEY" not in env, name
        if role == "gateway":
            (trust,) = [v for v in _pod_spec(doc)["volumes"] if v["name"] == "c2pa-trust"]
            assert [i["key"] for i in trust["secret"]["items"]] == [secrets["c2pa"]["certFile"]]
            assert env["KINORA_C2PA_CERT_FILE"]["value"].endswith(secrets["c2pa"]["certFile"])
            assert "KINORA_C2PA_KEY_FILE" not in env


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
