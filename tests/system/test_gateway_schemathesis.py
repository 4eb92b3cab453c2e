"""Schemathesis against the gateway's own OpenAPI document: every operation,
generated requests (anonymous and signed in), never a 5xx.

KINORA_SCHEMATHESIS_EXAMPLES sets examples per operation (default 8)."""

from __future__ import annotations

import os
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("KINORA_SCHEMATHESIS_EXAMPLES", "8"))
STATUSES: Counter = Counter()


def _operations(url):
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_error_on_any_operation(gateway_url, principals, request):
    failures = []
    operations = _operations(gateway_url)
    assert len(operations) > 20, "the gateway's OpenAPI document lists too few operations"
    headers_for = {
        "anonymous": {},
        "owner": {"Authorization": f"Bearer {principals.owner['token']}"},
        "other": {"Authorization": f"Bearer {principals.other['token']}"},
    }
    if True:
        for operation in operations:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            # The operation comes in as an argument (Hypothesis allows no default values) so that the
            # function's body does not read the loop variable.
            @given(case=operation.as_strategy(), who=st.sampled_from(list(headers_for)), operation=st.just(operation))
            def probe(case, who, operation):
                response = case.call(base_url=gateway_url, headers=headers_for[who], timeout=30)
                STATUSES[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{operation.method.upper()} {operation.path} as {who} -> "
                        f"{response.status_code}: {response.text[:300]}\n   {case.formatted_path} "
                        f"query={case.query} body={str(case.body)[:200]}"
                    )

            probe()
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    writer.write_line(
        f"\nschemathesis: {len(operations)} operations, {sum(STATUSES.values())} requests, "
        f"statuses {dict(sorted(STATUSES.items()))}"
    )
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:30])
