"""An S3 endpoint for the blob tests: moto's server on a free loopback port, and the standard AWS
variables pointing at it (dummy credentials; a developer's ~/.aws is kept out)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import pytest
from moto.server import ThreadedMotoServer

from reelgate.blobs.s3 import client_from_environment

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

ACCESS_KEY = "reelgate-test-key"
SECRET_KEY = "reelgate-test-secret"
REGION: Final = "eu-west-3"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 over real HTTP, with the environment a deployment would set."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    """One client for the session: building one loads botocore's models (about 0.1 s)."""
    return client_from_environment()


@pytest.fixture
def bucket(s3_client: S3Client) -> str:
    """A fresh bucket per test, so tests share the server but no objects."""
    name = f"reelgate-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name
