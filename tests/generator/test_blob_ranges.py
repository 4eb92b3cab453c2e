"""Byte ranges out of the blob store (GetMedia offset/length, for HTTP Range)."""

from services.generator.blobs import FilesystemBlobStore


def test_read_chunks_serves_a_range(tmp_path):
    store = FilesystemBlobStore(tmp_path)
    data = bytes(range(256)) * 40
    store.put("a/b.mp4", data)
    assert b"".join(store.read_chunks("a/b.mp4", 1000)) == data
    assert b"".join(store.read_chunks("a/b.mp4", 1000, offset=100, length=2500)) == data[100:2600]
    assert b"".join(store.read_chunks("a/b.mp4", 7, offset=len(data) - 5)) == data[-5:]
    assert b"".join(store.read_chunks("a/b.mp4", 64, offset=10, length=10**9)) == data[10:]
    assert all(len(c) <= 1000 for c in store.read_chunks("a/b.mp4", 1000, offset=3, length=5000))
