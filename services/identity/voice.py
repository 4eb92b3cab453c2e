"""Speech side of the liveness check: finding speech, recognising the spoken
digits with pocketsphinx (offline, its shipped English model), and the voice
profile kept as a likeness asset."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import numpy as np

SAMPLE_RATE = 16_000  # what pocketsphinx's en-us acoustic model expects
FRAME = 320  # 20 ms analysis frames
MIN_SPEECH_S = 0.6
SPEECH_FLOOR_RMS = 300.0  # about -40 dBFS: quieter than this is not someone reading aloud
PITCH_PERCENTILES = (10, 25, 50, 75, 90)
MEL_BANDS = 24

_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
_DIGIT_RULE = "<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;"


@dataclass(frozen=True)
class Speech:
    voiced: np.ndarray  # bool per FRAME of audio
    seconds: float
    start: int  # sample range covering all speech
    end: int


@dataclass(frozen=True)
class VoiceProfile:
    pitch_hz_median: float
    pitch_hz_percentiles: dict[int, float]
    mel_envelope_db: list[float]  # mean log energy of MEL_BANDS mel bands over speech

    def to_dict(self) -> dict:
        return asdict(self)


def _frame_rms(audio: np.ndarray) -> np.ndarray:
    n = len(audio) // FRAME
    frames = audio[: n * FRAME].astype(np.float32).reshape(n, FRAME)
    return np.sqrt(np.mean(frames**2, axis=1))


def find_speech(audio: np.ndarray) -> Speech:
    """Energy-based voice activity: frames well above both the recording's own
    noise floor and an absolute level."""
    rms = _frame_rms(audio)
    if len(rms) == 0:
        return Speech(np.zeros(0, bool), 0.0, 0, 0)
    threshold = max(SPEECH_FLOOR_RMS, 4.0 * float(np.percentile(rms, 10)))
    voiced = rms > threshold
    idx = np.flatnonzero(voiced)
    if len(idx) == 0:
        return Speech(voiced, 0.0, 0, 0)
    return Speech(voiced, len(idx) * FRAME / SAMPLE_RATE, int(idx[0] * FRAME), int((idx[-1] + 1) * FRAME))


class _Recogniser:
    """One pocketsphinx decoder per process (loading the model takes a while);
    a decoder is not thread-safe, so calls are serialised."""

    def __init__(self):
        import pocketsphinx

        self._decoder = pocketsphinx.Decoder(samprate=SAMPLE_RATE, lm=None, jsgf=None, dither=True)
        self._grammars: set[int] = set()
        self._lock = threading.Lock()

    def digits(self, pcm: np.ndarray, count: int) -> str:
        with self._lock:
            name = f"digits{count}"
            if count not in self._grammars:
                # Exactly `count` digits: the recogniser cannot insert or drop any,
                # which makes it far more robust than a free digit loop.
                body = " ".join(["<digit>"] * count)
                self._decoder.add_jsgf_string(
                    name, f"#JSGF V1.0;\ngrammar {name};\npublic <digits> = {body};\n{_DIGIT_RULE}\n"
                )
                self._grammars.add(count)
            self._decoder.activate_search(name)
            self._decoder.start_utt()
            self._decoder.process_raw(pcm.astype(np.int16).tobytes(), full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        words = hyp.hypstr.split() if hyp else []
        return "".join("0" if w == "oh" else str(_DIGIT_WORDS.index(w)) for w in words if w in _DIGIT_WORDS + ["oh"])


_recogniser: _Recogniser | None = None
_recogniser_lock = threading.Lock()


def recognise_digits(audio: np.ndarray, speech: Speech, count: int) -> str:
    global _recogniser
    with _recogniser_lock:
        if _recogniser is None:
            _recogniser = _Recogniser()
    margin = int(0.3 * SAMPLE_RATE)
    return _recogniser.digits(audio[max(0, speech.start - margin) : speech.end + margin], count)


def loudness_at(audio: np.ndarray, times: list[float], window_s: float = 0.08) -> np.ndarray:
    """Speech loudness (RMS over `window_s`) around each time, in seconds from the start."""
    half = int(window_s * SAMPLE_RATE / 2)
    samples = audio.astype(np.float32)
    out = []
    for t in times:
        mid = int(t * SAMPLE_RATE)
        seg = samples[max(0, mid - half) : mid + half]
        out.append(float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0)
    return np.array(out)


def _pitch_track(audio: np.ndarray, speech: Speech) -> np.ndarray:
    """Pitch of voiced 40 ms windows by autocorrelation, 70–400 Hz."""
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70
    win = 2 * FRAME
    pitches = []
    for i in np.flatnonzero(speech.voiced):
        seg = audio[i * FRAME : i * FRAME + win].astype(np.float32)
        if len(seg) < win:
            continue
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, mode="full")[win - 1 :]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.5:  # clearly periodic: a voiced sound, not a hiss
            pitches.append(SAMPLE_RATE / lag)
    return np.array(pitches)


def _mel_filterbank(n_fft: int) -> np.ndarray:
    def mel(f):
        return 2595 * np.log10(1 + f / 700)

    def hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    edges = hz(np.linspace(mel(60), mel(SAMPLE_RATE / 2 - 400), MEL_BANDS + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    bank = np.zeros((MEL_BANDS, len(bins)))
    for b in range(MEL_BANDS):
        left, centre, right = edges[b : b + 3]
        bank[b] = np.clip(np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)), 0, None)
    return bank


def voice_profile(audio: np.ndarray, speech: Speech) -> VoiceProfile:
    pitches = _pitch_track(audio, speech)
    pct = {p: round(float(np.percentile(pitches, p)), 1) if len(pitches) else 0.0 for p in PITCH_PERCENTILES}
    n_fft = 512
    bank = _mel_filterbank(n_fft)
    window = np.hanning(n_fft)
    spectra = []
    for i in np.flatnonzero(speech.voiced):
        seg = audio[i * FRAME : i * FRAME + n_fft].astype(np.float32)
        if len(seg) == n_fft:
            spectra.append(np.abs(np.fft.rfft(seg * window)) ** 2)
    if spectra:
        energies = bank @ np.mean(spectra, axis=0)
        envelope = [round(float(v), 2) for v in 10 * np.log10(energies + 1e-9)]
    else:
        envelope = [0.0] * MEL_BANDS
    return VoiceProfile(pct[50], pct, envelope)
