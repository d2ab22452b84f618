"""One contract for every `BlobStore`: what the worker, the housekeeper and /readyz rely on.

Each backend reads a blob back the way a user gets it: the local store through `local_path` (what
/files serves), the S3 store through its download link, over HTTP.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from reelgate.blobs.base import BlobStore
from reelgate.blobs.local import LocalBlobStore
from reelgate.blobs.s3 import S3BlobStore, S3Links

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


@dataclass
class Backend:
    store: BlobStore
    read: Callable[[str], bytes | None]  # what a download of the key gets; None when it is gone
    unreachable: BlobStore  # the same kind of store, whose directory or bucket does not exist


def _local(tmp_path: Path) -> Backend:
    store = LocalBlobStore(tmp_path / "blobs")

    def read(key: str) -> bytes | None:
        path = store.local_path(key)
        return None if path is None else path.read_bytes()

    unreachable = LocalBlobStore(tmp_path / "gone")
    shutil.rmtree(unreachable.root)
    return Backend(store, read, unreachable)


def _s3(client: S3Client, bucket: str, http: httpx.Client) -> Backend:
    store = S3BlobStore(client, bucket, "deploy/blobs")
    links = S3Links(store, ttl_seconds=60)

    def read(key: str) -> bytes | None:
        response = http.get(links.url(key))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content

    return Backend(store, read, S3BlobStore(client, f"{bucket}-missing", "blobs"))


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield _local(tmp_path)
        return
    with httpx.Client() as http:
        client = request.getfixturevalue("s3_client")
        yield _s3(client, request.getfixturevalue("bucket"), http)


def _put(store: BlobStore, key: str, content: bytes, tmp_path: Path) -> Path:
    source = tmp_path / f"upload-{key.replace('/', '_')}"
    source.write_bytes(content)
    store.put_file(key, source, "video/mp4" if key.endswith(".mp4") else "image/jpeg")
    return source


def test_put_reads_back_and_takes_the_source(backend: Backend, tmp_path: Path) -> None:
    video = _put(backend.store, "tasks/t1/1/video.mp4", b"\x00\x00\x00\x18ftypmp42", tmp_path)
    poster = _put(backend.store, "tasks/t1/1/poster.jpg", b"\xff\xd8\xff\xe0jpeg", tmp_path)
    assert backend.read("tasks/t1/1/video.mp4") == b"\x00\x00\x00\x18ftypmp42"
    assert backend.read("tasks/t1/1/poster.jpg") == b"\xff\xd8\xff\xe0jpeg"
    assert not video.exists()
    assert not poster.exists()
    assert backend.read("tasks/t1/1/missing.mp4") is None


def test_put_replaces_what_was_there(backend: Backend, tmp_path: Path) -> None:
    _put(backend.store, "tasks/t1/1/video.mp4", b"first attempt", tmp_path)
    _put(backend.store, "tasks/t1/1/video.mp4", b"second", tmp_path)
    assert backend.read("tasks/t1/1/video.mp4") == b"second"


def test_delete_prefix_counts_and_removes_only_that_prefix(
    backend: Backend, tmp_path: Path
) -> None:
    for key in (
        "tasks/t1/1/video.mp4",
        "tasks/t1/1/poster.jpg",
        "tasks/t1/10/video.mp4",  # shares the characters `tasks/t1/1`, not the folder
        "tasks/t2/1/video.mp4",
    ):
        _put(backend.store, key, key.encode(), tmp_path)

    assert backend.store.delete_prefix("tasks/t1/1/") == 2
    assert backend.read("tasks/t1/1/video.mp4") is None
    assert backend.read("tasks/t1/1/poster.jpg") is None
    assert backend.read("tasks/t1/10/video.mp4") == b"tasks/t1/10/video.mp4"
    assert backend.read("tasks/t2/1/video.mp4") == b"tasks/t2/1/video.mp4"
    assert backend.store.delete_prefix("tasks/t1/1/") == 0

    assert backend.store.delete_prefix("tasks/t2") == 1  # the trailing slash is optional
    assert backend.store.delete_prefix("tasks/t1/10/video.mp4") == 1  # one blob by its key
    assert backend.read("tasks/t1/10/video.mp4") is None
    assert backend.store.delete_prefix("nothing/here/") == 0


def test_bytes_round_trip_and_replace(backend: Backend) -> None:
    backend.store.put_bytes("inputs/k1/ref.png", b"\x89PNG first", "image/png")
    backend.store.put_bytes("inputs/k1/ref.png", b"\x89PNG second", "image/png")
    assert backend.store.get_bytes("inputs/k1/ref.png") == b"\x89PNG second"
    assert backend.read("inputs/k1/ref.png") == b"\x89PNG second"
    with pytest.raises(FileNotFoundError):
        backend.store.get_bytes("inputs/k1/other.png")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", "a/../b", ""])
def test_keys_that_could_escape_are_refused(backend: Backend, tmp_path: Path, key: str) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"kept")
    with pytest.raises(ValueError, match="invalid blob key"):
        backend.store.put_file(key, source, "video/mp4")
    with pytest.raises(ValueError, match="invalid blob key"):
        backend.store.put_bytes(key, b"data", "image/png")
    with pytest.raises(ValueError, match="invalid blob key"):
        backend.store.get_bytes(key)
    with pytest.raises(ValueError, match="invalid blob key"):
        backend.store.delete_prefix(key)
    assert backend.store.local_path(key) is None
    assert source.read_bytes() == b"kept"


def test_ping_passes_and_fails_when_the_storage_is_gone(backend: Backend) -> None:
    backend.store.ping()
    with pytest.raises(OSError):  # noqa: PT011 - each store says what is missing in its own words
        backend.unreachable.ping()


def test_workers_share_one_store_across_threads(backend: Backend, tmp_path: Path) -> None:
    keys = [f"tasks/t{n}/1/video.mp4" for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: _put(backend.store, key, key.encode(), tmp_path), keys))
    assert [backend.read(key) for key in keys] == [key.encode() for key in keys]
    assert backend.store.delete_prefix("tasks") == len(keys)
