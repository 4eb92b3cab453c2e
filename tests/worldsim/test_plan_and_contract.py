"""Scene planning with the real embedding model, remix, and the model contract."""

from __future__ import annotations

import base64
import json

import pytest

from kinora.models.contract import (
    Cameo,
    ModelInputError,
    ModelRequest,
    VoiceProfile,
    request_from_json,
    request_to_json,
)
from worldsim import concepts
from worldsim.planner import plan_scene, remix_plan

MISS = "a basketball player misses a three-pointer and the ball bounces off the backboard"


def test_library_is_big_enough():
    assert len(concepts.ENTITIES) >= 40
    assert set(concepts.SETTINGS) == {
        "basketball_court",
        "beach",
        "city_street",
        "kitchen",
        "forest",
        "stage",
        "snow_slope",
        "pool",
        "space",
        "living_room",
        "park",
        "road",
    }
    assert set(concepts.STYLES) == {"realistic", "cinematic", "anime", "watercolor", "black_and_white"}


def test_plan_understands_the_basketball_prompt():
    plan = plan_scene(MISS, 7, 4, 720, 1280)
    assert plan["setting"] == "basketball_court"
    kinds = [e["kind"] for e in plan["entities"]]
    assert "basketball_player" in kinds and "basketball" in kinds
    assert "miss" in plan["actions"]
    understood = {u["text"] for u in plan["understood"]}
    assert {"basketball player", "misses", "backboard"} <= understood
    json.dumps(plan)  # stored with the clip as JSON


def test_plan_reports_what_it_did_not_understand():
    plan = plan_scene("a dog plays with a zorblaxian quuxifier in the park", 1, 4, 720, 1280)
    assert plan["setting"] == "park"
    assert any(e["kind"] == "dog" for e in plan["entities"])
    assert {"zorblaxian", "quuxifier"} <= set(plan["not_understood"])


def test_plan_reads_style_time_weather_camera_and_dialogue():
    plan = plan_scene(
        'a chef says "dinner is ready" in the kitchen at night in the rain, anime style, dolly in', 1, 4, 720, 1280
    )
    assert (plan["setting"], plan["style"], plan["time_of_day"], plan["weather"], plan["camera"]) == (
        "kitchen",
        "anime",
        "night",
        "rain",
        "dolly_in",
    )
    chef = next(e for e in plan["entities"] if e["kind"] == "chef")
    assert plan["dialogue"] == [{"speaker": chef["id"], "text": "dinner is ready"}]


def test_plan_is_deterministic_for_a_seed_and_varies_with_it():
    a = plan_scene(MISS, 3, 4, 720, 1280)
    b = plan_scene(MISS, 3, 4, 720, 1280)
    c = plan_scene(MISS, 4, 4, 720, 1280)
    assert a == b
    assert [e["color"] for e in a["entities"]] != [e["color"] for e in c["entities"]]


def test_cameo_gets_a_character_and_its_voice():
    plan = plan_scene(
        "a person waves in the park",
        1,
        4,
        720,
        1280,
        cameos=[
            {"name": "alice", "voice": {"pitch_hz": 210.0, "envelope": [1.0, 0.5]}},
            {"name": "bob", "voice": None},
        ],
    )
    cast = {e.get("cameo"): e for e in plan["entities"] if e["category"] == "character"}
    assert cast["alice"]["voice"]["pitch_hz"] == 210.0 and cast["alice"]["voice"]["from_cameo"]
    assert "bob" in cast


def test_remix_edits_the_parent_plan():
    parent = plan_scene("a child throws a ball in the park", 2, 4, 720, 1280)
    night = remix_plan(parent, "make it night", 2, 4, 720, 1280)
    assert night["time_of_day"] == "night" and night["setting"] == "park"
    assert [e["kind"] for e in night["entities"]] == [e["kind"] for e in parent["entities"]]
    melon = remix_plan(parent, "replace the ball with a watermelon", 2, 4, 720, 1280)
    kinds = [e["kind"] for e in melon["entities"]]
    assert "watermelon" in kinds and "soccer_ball" not in kinds
    assert any("watermelon" in edit for edit in melon["remix"]["edits"])
    with pytest.raises(ModelInputError):
        remix_plan({"nonsense": True}, "make it night", 1, 4, 720, 1280)


def test_request_json_round_trip_and_clear_errors():
    request = ModelRequest(
        prompt="hi",
        seconds=8,
        seed=5,
        watermark="@a",
        cameos=[Cameo("alice", [b"\x89PNGdata"], VoiceProfile(180.0, [0.5]))],
        image=b"img",
        remix_plan={"setting": "park"},
    )
    back = request_from_json(request_to_json(request))
    assert back == request
    with pytest.raises(ModelInputError, match="not valid JSON"):
        request_from_json("{")
    with pytest.raises(ModelInputError, match="prompt"):
        request_from_json(json.dumps({"seconds": 4}))
    with pytest.raises(ModelInputError, match="base64"):
        request_from_json(json.dumps({"prompt": "x", "image": "@@@"}))
    for bad, message in [
        (ModelRequest(prompt="x", seconds=5), "seconds"),
        (ModelRequest(prompt="x", width=1080, height=1920), "not allowed for standard"),
        (ModelRequest(prompt="  "), "prompt"),
        (ModelRequest(prompt="x", cameos=[Cameo("a"), Cameo("b"), Cameo("c")]), "at most 2"),
    ]:
        with pytest.raises(ModelInputError, match=message):
            bad.validate()
    ModelRequest(prompt="x", width=1080, height=1920, quality="pro").validate()
    assert base64.b64decode(json.loads(request_to_json(request))["image"]) == b"img"
