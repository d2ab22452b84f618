"""Blobs in an S3-compatible bucket (`REELGATE_STORAGE_URL=s3://bucket/prefix`).

The client is configured the way every AWS tool is: `AWS_ENDPOINT_URL` (MinIO, Ceph, R2, …),
`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` or a profile or an instance role, and
`AWS_REGION` / `AWS_DEFAULT_REGION`. Downloads never pass through reelgate: links are presigned
GET URLs that the bucket itself checks and lets expire.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reelgate.blobs.base import validate_key

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

# SigV4, the only signature every region and S3-compatible server accepts, caps a presigned URL
# at seven days.
MAX_LINK_TTL_SECONDS = 7 * 24 * 3600
CONNECT_TIMEOUT_SECONDS = 5.0  # a readiness probe must not hang for botocore's default minute
# Each worker's upload runs up to 10 parts at once (boto3's default); a bigger pool keeps the
# connections of concurrent uploads alive instead of reopening them.
MAX_POOL_CONNECTIONS = 32
MAX_KEYS_PER_REQUEST = 1000  # the most keys one ListObjectsV2 or DeleteObjects request takes


class S3StorageError(OSError):
    """The bucket refused or could not be reached; the message names the bucket and S3's error."""


class S3BlobStore:
    """One bucket and a key prefix. Safe to share between threads: it holds one boto3 client,
    which is thread-safe, and no resource objects, which are not."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        keys_per_request: int = MAX_KEYS_PER_REQUEST,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if not 1 <= keys_per_request <= MAX_KEYS_PER_REQUEST:
            raise ValueError(f"keys_per_request must be 1..{MAX_KEYS_PER_REQUEST}")
        self._client = client
        self.bucket = bucket
        self.prefix = validate_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.keys_per_request = keys_per_request

    @classmethod
    def from_url(cls, url: str, client: S3Client | None = None) -> S3BlobStore:
        """`s3://bucket` or `s3://bucket/some/prefix`; the client comes from the environment."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"not an s3://bucket/prefix storage URL: {url!r}")
        return cls(client or client_from_environment(), parts.netloc, parts.path)

    def __repr__(self) -> str:
        return f"S3BlobStore('s3://{self.bucket}/{self.prefix}')"

    def _object_key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _explained(self, action: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            where = f"s3://{self.bucket}/{self.prefix} at {self._client.meta.endpoint_url}"
            raise S3StorageError(f"{action} in {where} failed: {exc}") from exc

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Upload, then delete `source`. S3 makes an object visible only once it is complete, so
        a reader never sees half a file; large files go up in parts, in parallel."""
        object_key = self._object_key(key)
        extra = {"ContentType": content_type, "ContentDisposition": _attachment(key)}
        with self._explained(f"uploading {key!r}"):
            self._client.upload_file(str(source), self.bucket, object_key, ExtraArgs=extra)
        source.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        object_key = self._object_key(key)
        with self._explained(f"uploading {key!r}"):
            self._client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=data,
                ContentType=content_type,
                ContentDisposition=_attachment(key),
            )

    def get_bytes(self, key: str) -> bytes:
        object_key = self._object_key(key)
        with self._explained(f"reading {key!r}"):
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=object_key)
            except self._client.exceptions.NoSuchKey:
                raise FileNotFoundError(f"no blob {key!r} in {self!r}") from None
            with answer["Body"] as body:
                return body.read()

    def local_path(self, key: str) -> Path | None:
        return None

    def delete_prefix(self, prefix: str) -> int:
        """Delete the blob named `prefix` and every blob under `prefix/`, as the local store
        does: `tasks/a/1` never touches `tasks/a/10/…`. One list and one delete request per
        page of keys."""
        base = self._object_key(prefix.rstrip("/"))
        deleted = 0
        with self._explained(f"deleting {prefix!r}"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=base,
                PaginationConfig={"PageSize": self.keys_per_request},
            )
            for page in pages:
                doomed: list[ObjectIdentifierTypeDef] = [
                    {"Key": obj["Key"]}
                    for obj in page.get("Contents", [])
                    if obj["Key"] == base or obj["Key"].startswith(base + "/")
                ]
                if not doomed:
                    continue
                answer = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": doomed, "Quiet": True}
                )
                if errors := answer.get("Errors"):
                    first = errors[0]
                    raise S3StorageError(
                        f"deleting {prefix!r} in s3://{self.bucket}/{self.prefix}:"
                        f" {len(errors)} object(s) refused, first {first.get('Key')!r}:"
                        f" {first.get('Code')} {first.get('Message')}"
                    )
                deleted += len(doomed)
        return deleted

    def ping(self) -> None:
        """Write and delete a tiny object: a bucket that can be read but not written would pass
        a HEAD and still fail every task."""
        probe = self._object_key(".ping")
        with self._explained("writing a probe object"):
            self._client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            self._client.delete_object(Bucket=self.bucket, Key=probe)

    def presigned_url(self, key: str, ttl_seconds: int) -> str:
        """A GET URL for `key` that the bucket honours for `ttl_seconds` (at most seven days).
        Computed locally: no request is made."""
        if not 1 <= ttl_seconds <= MAX_LINK_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be 1..{MAX_LINK_TTL_SECONDS}, got {ttl_seconds}")
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._object_key(key)},
            ExpiresIn=ttl_seconds,
        )


class S3Links:
    """Download links for an `S3BlobStore`: presigned URLs, checked and expired by the bucket.

    A TTL above S3's seven-day limit is clamped to it. A URL signed with temporary credentials
    (an instance role, STS) also stops working when those credentials expire, whichever is first.
    """

    def __init__(self, store: S3BlobStore, ttl_seconds: int) -> None:
        if ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        if ttl_seconds > MAX_LINK_TTL_SECONDS:
            log.warning(
                "link TTL of %d s exceeds S3's limit; links will expire after %d s",
                ttl_seconds,
                MAX_LINK_TTL_SECONDS,
            )
        self._store = store
        self.ttl_seconds = min(ttl_seconds, MAX_LINK_TTL_SECONDS)

    def url(self, key: str) -> str:
        return self._store.presigned_url(key, self.ttl_seconds)


def client_from_environment() -> S3Client:
    """An S3 client configured by the standard AWS variables, files and instance metadata.

    botocore reads `AWS_ENDPOINT_URL` and `AWS_DEFAULT_REGION` itself; `AWS_REGION`, which the
    other AWS SDKs read and the AWS CLI prefers, is honoured here too. Signatures are SigV4:
    botocore would otherwise presign with the deprecated SigV2, which many regions refuse.
    """
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    config = Config(
        signature_version="s3v4",
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    return session.client("s3", config=config)


def _attachment(key: str) -> str:
    """The Content-Disposition reelgate's own /files route sends, so a link behaves the same
    whichever store serves it."""
    filename = PurePosixPath(key).name
    quoted = quote(filename)
    if quoted == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quoted}"
