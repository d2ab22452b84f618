"""An S3 endpoint for the blob tests: moto's server on a free loopback port, and the standard AWS
variables pointing at it (dummy credentials; a developer's ~/.aws is kept out)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from reelgate.blobs.s3 import client_from_environment

ACCESS_KEY = "reelgate-test-key"
SECRET_KEY = "reelgate-test-secret"
REGION = "eu-west-3"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_endpoint


@pytest.fixture
def bucket(s3_env: str) -> str:
    """A fresh bucket per test, so tests share the server but no objects."""
    name = f"reelgate-{uuid.uuid4().hex[:12]}"
    client_from_environment().create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return name
