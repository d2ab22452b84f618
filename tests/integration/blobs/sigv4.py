"""The check S3 makes on a presigned GET URL (SigV4 query authentication), written from AWS's
specification rather than with botocore, so it tests botocore's signing instead of repeating it.

moto's server serves expired and tampered presigned URLs alike: it does not check them. This
stands in for the bucket's side of the bargain.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MAX_EXPIRES_SECONDS = 7 * 24 * 3600


def refusal(url: str, secret_key: str, now: float) -> str | None:
    """Why S3 would answer 403 to a GET of `url` at `now`, or None when it would serve it."""
    split = urlsplit(url)
    pairs = parse_qsl(split.query, keep_blank_values=True)
    params = dict(pairs)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in params:
        return "AuthorizationQueryParametersError"
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires = int(params["X-Amz-Expires"])
    if not 1 <= expires <= MAX_EXPIRES_SECONDS:
        return "AuthorizationQueryParametersError"
    if now > signed_at.timestamp() + expires:
        return "AccessDenied: Request has expired"
    if params["X-Amz-SignedHeaders"] != "host":
        return "AuthorizationQueryParametersError"

    canonical_query = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}"
        for k, v in sorted(pairs)
        if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            "GET",
            quote(unquote(split.path), safe="/"),
            canonical_query,
            f"host:{split.netloc.lower()}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    _access_key, day, region, service, terminator = params["X-Amz-Credential"].split("/")
    scope = f"{day}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return "SignatureDoesNotMatch"
    return None
