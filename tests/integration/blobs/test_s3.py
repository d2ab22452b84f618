"""What only the S3 store does: presigned links that the bucket checks, content types served by
the bucket, configuration from the standard AWS environment, errors that name the bucket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from reelgate.blobs.s3 import MAX_LINK_TTL_SECONDS, S3BlobStore, S3Links, S3StorageError
from tests.integration.blobs.conftest import REGION, SECRET_KEY
from tests.integration.blobs.sigv4 import refusal

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

KEY = "tasks/t1/1/video.mp4"


@pytest.fixture
def store(s3_client: S3Client, bucket: str) -> S3BlobStore:
    return S3BlobStore(s3_client, bucket, "deploy/blobs")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _put(store: S3BlobStore, key: str, content: bytes, content_type: str, tmp: Path) -> None:
    source = tmp / "upload"
    source.write_bytes(content)
    store.put_file(key, source, content_type)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_from_url_reads_the_endpoint_and_region_from_the_environment(
    bucket: str, s3_endpoint: str, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3BlobStore.from_url(f"s3://{bucket}/deploy/blobs/")
    assert store.prefix == "deploy/blobs"
    store.ping()
    url = S3Links(store, 60).url(KEY)
    assert url.startswith(f"{s3_endpoint}/{bucket}/deploy/blobs/{KEY}?")
    assert f"/{REGION}/s3/" in _query(url)["X-Amz-Credential"]
    assert refusal(url, SECRET_KEY, now=time.time()) is None
    # AWS_REGION, which the other SDKs and the AWS CLI prefer, wins over AWS_DEFAULT_REGION.
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    other = S3BlobStore.from_url(f"s3://{bucket}")
    assert other.prefix == ""
    assert "/ap-south-1/s3/" in _query(S3Links(other, 60).url(KEY))["X-Amz-Credential"]


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "file:///tmp", "s3://b/../up", "s3://b/a//b", "s3://b/a?x=1"]
)
def test_from_url_refuses_what_is_not_a_bucket_and_prefix(url: str, s3_client: S3Client) -> None:
    with pytest.raises(ValueError, match=r"s3://|invalid blob key"):
        S3BlobStore.from_url(url, client=s3_client)


def test_downloads_carry_the_content_type_and_a_file_name(
    store: S3BlobStore, http: httpx.Client, tmp_path: Path
) -> None:
    _put(store, KEY, b"mp4", "video/mp4", tmp_path)
    _put(store, "tasks/t1/1/poster.jpg", b"jpg", "image/jpeg", tmp_path)
    links = S3Links(store, 60)
    video = http.get(links.url(KEY))
    poster = http.get(links.url("tasks/t1/1/poster.jpg"))
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
    assert video.headers["content-disposition"] == 'attachment; filename="video.mp4"'
    assert (poster.status_code, poster.headers["content-type"]) == (200, "image/jpeg")
    store.put_bytes("inputs/k1/ref.png", b"png", "image/png")
    assert http.get(links.url("inputs/k1/ref.png")).headers["content-type"] == "image/png"


def test_links_expire_after_their_ttl(store: S3BlobStore, http: httpx.Client) -> None:
    url = S3Links(store, ttl_seconds=2).url(KEY)
    signed_at = time.time()
    assert _query(url)["X-Amz-Expires"] == "2"
    assert refusal(url, SECRET_KEY, now=signed_at) is None
    assert refusal(url, SECRET_KEY, now=signed_at + 4) == "AccessDenied: Request has expired"


def test_tampered_links_are_refused(store: S3BlobStore) -> None:
    url = S3Links(store, ttl_seconds=3600).url(KEY)
    now = time.time()
    signature = _query(url)["X-Amz-Signature"]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    for tampered in (
        url.replace(signature, forged),
        url.replace("video.mp4", "poster.jpg"),  # another file with the same signature
        url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"),  # a longer life
    ):
        assert refusal(tampered, SECRET_KEY, now=now) == "SignatureDoesNotMatch"
    assert refusal(url, "another-secret", now=now) == "SignatureDoesNotMatch"


def test_link_ttl_is_clamped_to_the_seven_days_s3_allows(store: S3BlobStore) -> None:
    links = S3Links(store, ttl_seconds=30 * 24 * 3600)
    assert links.ttl_seconds == MAX_LINK_TTL_SECONDS
    assert _query(links.url(KEY))["X-Amz-Expires"] == str(MAX_LINK_TTL_SECONDS)
    with pytest.raises(ValueError, match="positive"):
        S3Links(store, ttl_seconds=0)


def test_a_missing_bucket_is_named_in_the_error(
    store: S3BlobStore, s3_client: S3Client, tmp_path: Path
) -> None:
    missing = S3BlobStore(s3_client, f"{store.bucket}-gone")
    with pytest.raises(S3StorageError, match=rf"s3://{missing.bucket}/.*NoSuchBucket"):
        missing.ping()
    source = tmp_path / "video.mp4"
    source.write_bytes(b"mp4")
    with pytest.raises(S3StorageError, match="NoSuchBucket"):
        missing.put_file(KEY, source, "video/mp4")
    assert source.exists()  # not uploaded, so not taken


def test_delete_prefix_goes_through_every_page_of_the_listing(
    store: S3BlobStore, s3_client: S3Client
) -> None:
    paged = S3BlobStore(s3_client, store.bucket, store.prefix, keys_per_request=10)
    for n in range(25):
        s3_client.put_object(Bucket=store.bucket, Key=f"deploy/blobs/tasks/t{n}/1/p.jpg", Body=b"")
    s3_client.put_object(Bucket=store.bucket, Key="deploy/blobsmith/tasks/t1/1/p.jpg", Body=b"")
    assert paged.delete_prefix("tasks/") == 25
    left = s3_client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    assert [obj["Key"] for obj in left] == ["deploy/blobsmith/tasks/t1/1/p.jpg"]
