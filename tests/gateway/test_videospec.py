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


@pytest.mark.parametrize("model, seconds, size, code, words", [
    ("turbo", 10, "720x1280", "invalid_model", "use one of pro, standard"),
    ("standard", 7, "720x1280", "invalid_seconds", "4, 8, 10, 12, 15, 16, 20; got 7"),
    ("standard", 10, "big", "invalid_size", "must look like 720x1280"),
    ("standard", 10, "1080x1920", "size_requires_pro", "needs the pro model"),
    ("pro", 10, "640x480", "invalid_size", "not available for pro"),
])
def test_refusals_say_what_is_allowed(model, seconds, size, code, words):
    with pytest.raises(SpecError) as err:
        validate(model, seconds, size)
    assert err.value.code == code and words in err.value.message


def test_configured_models():
    models = {"fast": "standard", "cinema": "pro"}
    assert validate("cinema", 8, "1080x1920", models=models).quality == "pro"
    with pytest.raises(SpecError, match="use one of cinema, fast"):
        validate("standard", models=models)
