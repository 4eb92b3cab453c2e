"""The contracts: generated code is current, importable and follows buf style."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor

REPO_ROOT = Path(__file__).resolve().parent.parent
GEN_SCRIPT = REPO_ROOT / "scripts" / "gen_protos.py"
PROTOS = sorted((REPO_ROOT / "protos").rglob("*.proto"))
AREAS = ["common", "identity", "cameo", "generator", "billing", "feed", "gateway"]


def _load_gen_script():
    spec = importlib.util.spec_from_file_location("gen_protos", GEN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module_name(proto: Path) -> str:
    rel = proto.relative_to(REPO_ROOT / "protos").with_suffix("")
    return ".".join(rel.parts) + "_pb2"


def test_generated_code_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(GEN_SCRIPT), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_a_stale_file(tmp_path, monkeypatch):
    # A copy of the repo's protos and generated code with one module edited
    # by hand: the check must name it.
    shutil.copytree(REPO_ROOT / "protos", tmp_path / "protos")
    shutil.copytree(REPO_ROOT / "kinora", tmp_path / "kinora", ignore=shutil.ignore_patterns("__pycache__"))
    edited = Path("kinora/cameo/v1/cameo_pb2.py")
    (tmp_path / edited).write_text((tmp_path / edited).read_text() + "\n# edited\n")
    gen = _load_gen_script()
    monkeypatch.setattr(gen, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(gen, "PROTO_ROOT", tmp_path / "protos")
    assert gen.main(["--check"]) == 1
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    generated = gen.generate(out_dir)
    assert gen.stale_files(out_dir, generated) == [f"out of date: {edited}"]


@pytest.mark.parametrize("area", [a for a in AREAS if a != "common"])
def test_every_area_has_events(area):
    assert (REPO_ROOT / "protos" / "kinora" / area / "v1" / "events.proto").is_file()


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: str(p.relative_to(REPO_ROOT / "protos")))
def test_generated_modules_import_and_follow_buf_style(proto):
    module = importlib.import_module(_module_name(proto))
    importlib.import_module(_module_name(proto) + "_grpc")
    file_desc = module.DESCRIPTOR
    rel_dir = str(proto.parent.relative_to(REPO_ROOT / "protos")).replace("/", ".")
    assert file_desc.package == rel_dir, "package must match the directory"
    assert file_desc.package.split(".")[-1] == "v1"
    assert proto.stem == proto.stem.lower()

    for service in file_desc.services_by_name.values():
        assert service.name.endswith("Service"), service.full_name
        for method in service.methods:
            assert method.input_type.name == f"{method.name}Request", method.full_name
            assert method.output_type.name == f"{method.name}Response", method.full_name

    def check_enum(enum):
        prefix = "".join("_" + c if c.isupper() else c for c in enum.name).lstrip("_").upper()
        assert enum.values[0].number == 0
        assert enum.values[0].name == f"{prefix}_UNSPECIFIED", enum.full_name
        for value in enum.values:
            assert value.name.startswith(prefix + "_"), value.name

    def check_message(message):
        for field in message.fields:
            assert field.name == field.name.lower(), field.full_name
            if field.name.endswith("_at") and field.type == FieldDescriptor.TYPE_MESSAGE:
                assert field.message_type.full_name == "google.protobuf.Timestamp"
        for enum in message.enum_types:
            check_enum(enum)
        for nested in message.nested_types:
            check_message(nested)

    for enum in file_desc.enum_types_by_name.values():
        check_enum(enum)
    for message in file_desc.message_types_by_name.values():
        check_message(message)


def test_messages_round_trip_across_areas():
    # A cross-area type (common.LikenessAssets inside an identity event) survives
    # serialisation, as a Kafka consumer in another service would read it.
    from kinora.common.v1 import common_pb2
    from kinora.identity.v1 import events_pb2

    event = events_pb2.CameoVerified(
        user_id="0b7e1c9a-3f7e-4d7a-9a55-2a0f5b7c1d11",
        handle="alice",
        owner_age_group=common_pb2.AGE_GROUP_ADULT,
        likeness=common_pb2.LikenessAssets(
            face_crops=[common_pb2.BlobRef(key="faces/a.jpg", content_type="image/jpeg")],
            voice_profile=common_pb2.BlobRef(key="voice/a.json"),
        ),
    )
    event.occurred_at.GetCurrentTime()
    decoded = events_pb2.CameoVerified.FromString(event.SerializeToString())
    assert decoded == event
    assert decoded.likeness.face_crops[0].key == "faces/a.jpg"
