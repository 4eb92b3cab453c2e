"""Identity's blob folder (likeness assets). Objects are written to a
temporary name and renamed, so a reader never sees a torn file; keys are
relative paths under the folder."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from kinora.common.v1 import common_pb2


class BlobStore:
    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"blob key {key!r} escapes the blob folder")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> common_pb2.BlobRef:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        return common_pb2.BlobRef(
            key=key, content_type=content_type, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
        )

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_folder(self, prefix: str) -> None:
        """Every object under `prefix` (a folder key), and the folder."""
        path = self._path(prefix)
        if path.is_dir():
            shutil.rmtree(path)
