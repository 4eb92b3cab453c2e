"""kinora/videospec.py: the one table of models, sizes and lengths (no platform needed)."""

import pytest

from kinora import videospec
from kinora.videospec import SpecError, validate


def test_defaults_and_aliases():
    spec = validate()
    assert (spec.model, spec.quality, spec.seconds, spec.size) == ("standard", "standard", 10, "720x1280")
    assert validate("sora-2-pro", 4, "1920x1080").model == "pro"
    assert videospec.canonical_model(" sora-2 ") == "standard"
    assert videospec.SORA_NAMES == {"standard": "sora-2", "pro": "sora-2-pro"}


@pytest.mark.parametrize(
    "model, seconds, size, code, words",
    [
        ("turbo", 10, "720x1280", "invalid_model", "use one of pro, standard"),
        ("standard", 7, "720x1280", "invalid_seconds", "4, 8, 10, 12, 15, 16, 20; got 7"),
        ("standard", 10, "big", "invalid_size", "must look like 720x1280"),
        ("standard", 10, "1080x1920", "size_requires_pro", "needs the pro model"),
        ("pro", 10, "640x480", "invalid_size", "not available for pro"),
    ],
)
def test_refusals_say_what_is_allowed(model, seconds, size, code, words):
    with pytest.raises(SpecError) as err:
        validate(model, seconds, size)
    assert err.value.code == code and words in err.value.message


def test_configured_models():
    models = {"fast": "standard", "cinema": "pro"}
    assert validate("cinema", 8, "1080x1920", models=models).quality == "pro"
    with pytest.raises(SpecError, match="use one of cinema, fast"):
        validate("standard", models=models)


def test_storyboard_shots_starts_and_limits():
    shots = videospec.storyboard([(" a kite rises ", 4, "pan_left"), ("it lands", 6, "")], "standard")
    assert [(s.prompt, s.seconds, s.camera, s.start) for s in shots] == [
        ("a kite rises", 4, "pan_left", 0),
        ("it lands", 6, "", 4),
    ]
    assert sum(s.seconds for s in videospec.storyboard([("a", 13, ""), ("b", 12, "")], "pro")) == 25


@pytest.mark.parametrize(
    "shots, quality, seconds, code, words",
    [
        ([("a", 8, ""), ("b", 8, "")], "standard", 0, "storyboard_too_long", "pro storyboards run up to 25 s"),
        ([("a", 13, ""), ("b", 13, "")], "pro", 0, "storyboard_too_long", "at most 25 s"),
        ([("a", 2, "")] * 7, "standard", 0, "invalid_shots", "1 to 6 shots"),
        ([], "standard", 0, "invalid_shots", "1 to 6 shots"),
        ([("a", 1, "")], "standard", 0, "invalid_shots", "2 to 20"),
        ([("a", 3, ""), ("  ", 3, "")], "standard", 0, "invalid_shots", "shot 2 needs a prompt"),
        ([("a", 3, "spin")], "standard", 0, "invalid_camera", "pan_left"),
        ([("a", 3, ""), ("b", 3, "")], "standard", 8, "invalid_shots", "the shots' total (6)"),
    ],
)
def test_storyboard_refusals(shots, quality, seconds, code, words):
    with pytest.raises(SpecError) as err:
        videospec.storyboard(shots, quality, seconds)
    assert err.value.code == code and words in err.value.message, err.value.message


def test_extension_and_billed_seconds():
    assert videospec.extension_seconds(20) == 20 and videospec.billed_seconds(25) == 25
    for bad in (0, 3, 5, 24):
        with pytest.raises(SpecError, match="an extension adds 4, 8"):
            videospec.extension_seconds(bad)
    for bad in (0, -5, 26, 2**31 - 1):
        with pytest.raises(SpecError, match="seconds must be 1 to 25"):
            videospec.billed_seconds(bad)
    # Any length is kept when another rule checked it (a storyboard's total, an edit's source).
    assert validate("standard", 9, "720x1280", any_seconds=True).seconds == 9
