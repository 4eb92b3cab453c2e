"""Test media for the liveness check: the clip maker lives in
kinora.media.liveness_clip (the demo uses it too); re-exported here for the
identity tests."""

from kinora.media.liveness_clip import (  # noqa: F401 - re-exported for the tests
    AUDIO_RATE,
    DIGIT_WORDS,
    MISHEARD_DIGITS,
    Turn,
    clip_for_challenge,
    encode_clip,
    make_clip,
    render_frames,
    speak_digits,
    speakable,
    turns_for,
)
