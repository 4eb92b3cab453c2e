"""`make audit`: known vulnerabilities in the installed dependencies, with pip-audit (PyPI's
advisory data), failing clearly when it could not really audit them.

pip-audit reports a package it cannot look up as "skipped" and still exits 0, so an index that
answers 404 for everything (a proxy, a mirror, no network behind a resolver) would pass with
nothing audited. Here that is a failure: exit 1 for known vulnerabilities, exit 2 when the audit
could not be done (network, or most packages not looked up). A few skips are expected: packages
with a local version label (torch 2.x+cpu) or from another index are listed, not fatal."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
MOST = 0.5  # more than this share of packages skipped = the advisory source was not reachable


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        run = subprocess.run(
            [
                str(BIN / "pip-audit"),
                "--skip-editable",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
        )
        if not report.exists() or not report.read_text().strip():
            sys.stderr.write(run.stderr[-3000:])
            print(
                "make audit: FAILED - pip-audit could not run to the end (it needs the network: PyPI's advisory data)",
                file=sys.stderr,
            )
            return 2
        found = json.loads(report.read_text())["dependencies"]
    skipped = [d for d in found if d.get("skip_reason")]
    audited = [d for d in found if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    for d in vulnerable:
        for v in d["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(v.get("aliases") or [])
            print(f"VULNERABLE {d['name']} {d['version']}: {v['id']} ({aliases}) - fixed in {fixes}")
    if skipped:
        print(
            f"not audited ({len(skipped)}): "
            + ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in skipped)
        )
    print(f"audited {len(audited)} installed packages: {len(vulnerable)} with known vulnerabilities")
    if vulnerable:
        print(
            "make audit: FAILED - upgrade the packages above (pyproject.toml) or record why not in SECURITY.md",
            file=sys.stderr,
        )
        return 1
    if not audited or len(skipped) > MOST * len(found):
        print(
            f"make audit: FAILED - {len(skipped)} of {len(found)} packages could not be looked up, so "
            "nothing was really audited (offline, or the index does not serve PyPI's JSON API)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
