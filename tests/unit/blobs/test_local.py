from __future__ import annotations

from pathlib import Path

import pytest

from reelgate.blobs.local import LocalBlobStore


def test_put_read_delete(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for name in ("video.mp4", "poster.jpg"):
        source = tmp_path / name
        source.write_bytes(b"video")
        store.put_file(f"tasks/t1/1/{name}", source, "video/mp4")
        assert not source.exists()  # taken over, not copied
    path = store.local_path("tasks/t1/1/video.mp4")
    assert path is not None
    assert path.read_bytes() == b"video"
    assert not list(path.parent.glob(".incoming-*"))
    assert store.delete_prefix("tasks/t1/1/") == 2
    assert store.local_path("tasks/t1/1/video.mp4") is None
    assert store.delete_prefix("tasks/t1/1/") == 0


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", ""])
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path)
    assert store.local_path(key) is None
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put_file(key, tmp_path, "x")
