"""Service identity in the Helm chart: each service's certificate and mutual TLS, its Kafka user
and ACLs (checked against the topics the code writes and reads), and the gateway's egress."""

from __future__ import annotations

import pytest
from chart_release import RELEASE, SERVICES, _docs, _env, _pod_spec, _render, _selects

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
        f"spiffe://kinora/{n}" for n in [*SERVICES, "gateway", "admin"]
    }
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
    """Which topics each service writes (its outbox topics) and reads, from the code: each
    service's topics.py (TOPICS: what its outbox writes; CONSUME_TOPICS: what its group reads)."""
    from services.billing import topics as billing
    from services.cameo import topics as cameo
    from services.feed import topics as feed
    from services.generator import topics as generator
    from services.identity import topics as identity

    return {
        name: {"writes": set(module.TOPICS), "reads": set(module.CONSUME_TOPICS)}
        for name, module in (
            ("identity", identity),
            ("cameo", cameo),
            ("feed", feed),
            ("generator", generator),
            ("billing", billing),
        )
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
        assert (
            user["spec"]["authentication"]["type"]
            == {"tls": "tls", "scram-sha-512": "scram-sha-512"}[kafka["authentication"]]
        )
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
            if (
                block
                and ip.version == ipaddress.ip_network(block["cidr"]).version
                and ip in ipaddress.ip_network(block["cidr"])
                and not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
            ):
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
    for address in (
        "169.254.169.254",
        "169.254.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "100.64.0.1",
        "fd00::1",
        "fe80::1",
        "::1",
    ):
        assert not _admits(policy, address, 443), address
    assert _admits(policy, "93.184.216.34", 443) and _admits(policy, "2606:2800:220:1::1", 443)
    assert not _admits(policy, "93.184.216.34", 80), "webhooks are HTTPS only"
    # Address ranges open only HTTPS with the private ranges cut out, or a configured backend's
    # own ports (e.g. a managed Redis's subnet on 6379).
    backend_ports = {
        port
        for backend in release.merged["networkPolicy"]["gatewayEgress"]["backends"]
        if backend.get("cidrs")
        for port in backend["ports"]
    }
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
