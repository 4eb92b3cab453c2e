"""The static checks of `make lint` catch what they are there for: each import-graph contract in
pyproject.toml breaks on a planted violation, and buf's breaking-change check refuses a removed
field. (That the real tree passes them is `make lint`'s job.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUF = REPO / "node_modules" / ".bin" / "buf"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

SERVICES = ("identity", "cameo", "feed", "generator", "billing", "gateway")


def _importlinter_config() -> str:
    """pyproject.toml's [tool.importlinter] tables, verbatim."""
    text = (REPO / "pyproject.toml").read_text()
    tables = re.findall(r"^\[\[?tool\.importlinter[^\n]*\n(?:(?!^\[).*\n?)*", text, re.M)
    assert tables, "pyproject.toml has no [tool.importlinter] section"
    config = "".join(tables)
    tomllib.loads(config)  # still valid TOML on its own
    return config


def _package_tree(root: Path, imports: dict[str, str]) -> None:
    """A skeleton of kinora and services; `imports` maps a module to the line it adds."""
    modules = [
        "kinora/runtime/server",
        "kinora/runtime/clients",
        "kinora/identity/v1/identity_pb2",
        *(f"kinora/{name}/v1/{name}_pb2" for name in SERVICES if name != "identity"),
        *(f"services/{name}/server" for name in SERVICES),
    ]
    for module in modules:
        path = root / f"{module}.py"
        for parent in [*reversed(path.relative_to(root).parents)][1:]:
            (root / parent).mkdir(exist_ok=True)
            (root / parent / "__init__.py").touch()
        path.write_text(imports.get(module.replace("/", "."), "") + "\n")


def _lint_imports(root: Path) -> dict[str, str]:
    """Each contract's id and what lint-imports says of it (KEPT or BROKEN)."""
    config = _importlinter_config()
    (root / "pyproject.toml").write_text(config)
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    out = " ".join((result.stdout + result.stderr).split())  # undo its line wrapping
    verdicts = {}
    for contract in tomllib.loads(config)["tool"]["importlinter"]["contracts"]:
        found = re.search(re.escape(contract["name"]) + r" (KEPT|BROKEN)", out)
        assert found, f"no verdict for {contract['id']} in: {out}"
        verdicts[contract["id"]] = found.group(1)
    assert (result.returncode == 0) == all(v == "KEPT" for v in verdicts.values()), out
    return verdicts


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (make install)")
def test_clean_skeleton_keeps_every_contract(tmp_path):
    _package_tree(
        tmp_path,
        {
            "services.gateway.server": "import kinora.runtime.clients",
            "kinora.runtime.server": "import kinora.runtime.clients",
        },
    )
    verdicts = _lint_imports(tmp_path)
    assert set(verdicts.values()) == {"KEPT"}, verdicts


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (make install)")
@pytest.mark.parametrize(
    ("imports", "contract"),
    [
        ({"services.feed.server": "import services.generator.server"}, "services-independent"),
        ({"kinora.runtime.server": "import services.identity.server"}, "kinora-no-services"),
        ({"kinora.runtime.clients": "from kinora.identity.v1 import identity_pb2"}, "runtime-no-contracts"),
        # a function-level import counts: the runtime's server and clients once imported each other so
        (
            {
                "kinora.runtime.server": "import kinora.runtime.clients",
                "kinora.runtime.clients": "def f():\n    from kinora.runtime import server",
            },
            "kinora-acyclic",
        ),
    ],
)
def test_each_contract_breaks_on_its_violation(tmp_path, imports, contract):
    _package_tree(tmp_path, imports)
    verdicts = _lint_imports(tmp_path)
    assert verdicts.pop(contract) == "BROKEN"
    assert set(verdicts.values()) == {"KEPT"}, verdicts  # and only that one


@pytest.mark.skipif(not BUF.exists(), reason="the buf CLI is not installed (make install: npm ci)")
def test_buf_breaking_refuses_a_removed_field(tmp_path):
    workspace = tmp_path / "ws"
    shutil.copytree(REPO / "protos", workspace / "protos")
    shutil.copy(REPO / "buf.yaml", workspace / "buf.yaml")
    common = workspace / "protos/kinora/common/v1/common.proto"
    text = common.read_text()
    field = re.search(r"^\s+(?:repeated |optional )?[\w.]+ (\w+) = \d+;.*\n", text, re.M)
    assert field, "common.proto has no field to remove"
    common.write_text(text.replace(field.group(0), "", 1))

    lint = subprocess.run([str(BUF), "lint"], cwd=workspace, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr  # still well-formed: only compatibility is lost
    result = subprocess.run(
        [str(BUF), "breaking", "--against", str(REPO / "protos")],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, "buf breaking accepted a removed field"
    assert field.group(1) in result.stdout + result.stderr or "deleted" in (result.stdout + result.stderr).lower()


def test_test_modules_have_unique_names():
    """pytest imports test modules by basename (no packages under tests/): two test_x.py in two
    folders stop the whole collection with 'import file mismatch' on a clean checkout."""
    seen: dict[str, list[str]] = {}
    for path in (REPO / "tests").rglob("*.py"):
        if path.name not in ("conftest.py", "__init__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}
