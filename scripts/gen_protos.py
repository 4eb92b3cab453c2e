#!/usr/bin/env python3
"""Regenerate the Python code for every .proto under protos/.

    python scripts/gen_protos.py           # write kinora/<area>/v1/*_pb2*.py(i)
    python scripts/gen_protos.py --check   # exit 1 listing stale files

Output lands next to the package path of each proto (protos/kinora/x/v1/y.proto
-> kinora/x/v1/y_pb2.py), because protoc runs with protos/ as the include root
and the repository root as the output directory. Generated code is never
edited by hand; tests/test_protos.py runs --check.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    # Sorted so the protoc invocation (and its output) never depends on
    # directory listing order.
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc into out_dir; return the generated files relative to it."""
    protos = proto_files()
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT}")
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        "--fatal_warnings",
        *(str(p.relative_to(PROTO_ROOT)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed (see messages above)")
    return sorted(
        p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    )


def package_dirs(generated: list[Path]) -> list[Path]:
    """Every package directory the generated modules need (kinora/x, kinora/x/v1)."""
    dirs: set[Path] = set()
    for rel in generated:
        parent = rel.parent
        while parent != Path("."):
            dirs.add(parent)
            parent = parent.parent
    return sorted(dirs)


def committed_generated_files() -> list[Path]:
    return sorted(
        p.relative_to(REPO_ROOT)
        for p in (REPO_ROOT / "kinora").rglob("*")
        if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    )


def write(generated_root: Path, generated: list[Path]) -> None:
    for rel in generated:
        target = REPO_ROOT / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (generated_root / rel).read_bytes()
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    # Remove generated modules whose .proto is gone, so no stale contract lingers.
    for rel in committed_generated_files():
        if rel not in generated:
            (REPO_ROOT / rel).unlink()
            print(f"removed stale {rel}")
    # Only create missing __init__.py files; existing ones may be hand-written.
    for pkg in package_dirs(generated):
        init = REPO_ROOT / pkg / "__init__.py"
        if not init.exists():
            init.write_text("")
            print(f"created {init.relative_to(REPO_ROOT)}")


def stale_files(generated_root: Path, generated: list[Path]) -> list[str]:
    problems = []
    for rel in generated:
        target = REPO_ROOT / rel
        if not target.exists():
            problems.append(f"missing: {rel}")
        elif not filecmp.cmp(target, generated_root / rel, shallow=False):
            problems.append(f"out of date: {rel}")
    for rel in committed_generated_files():
        if rel not in generated:
            problems.append(f"no .proto for: {rel}")
    for pkg in package_dirs(generated):
        if not (REPO_ROOT / pkg / "__init__.py").exists():
            problems.append(f"missing: {pkg / '__init__.py'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary directory and fail if committed code differs",
    )
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kinora-protos-") as tmp:
        tmp_root = Path(tmp)
        generated = generate(tmp_root)
        if options.check:
            problems = stale_files(tmp_root, generated)
            if problems:
                print("generated protobuf code is stale; run: python scripts/gen_protos.py")
                for line in problems:
                    print(f"  {line}")
                return 1
            print(f"generated protobuf code is up to date ({len(generated)} files)")
            return 0
        write(tmp_root, generated)
        print(f"generated {len(generated)} files from {len(proto_files())} protos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
