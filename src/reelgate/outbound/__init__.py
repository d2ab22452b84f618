"""Outbound connections to client-chosen URLs: callbacks and input images (CONTRACT.md 5).

- `policy`: `OutboundPolicy` checks a URL when a task is created (`UrlRefused`), without DNS.
- `addresses`: the address rule itself (`is_global`, `blocked_reason`).
- `transport`: `GuardedTransport` enforces the rule on every connection (resolve once, check,
  connect to the checked address, no redirects); `guarded_client` builds an `httpx.AsyncClient`
  around it; a refusal is raised as `OutboundRefused`, an `httpx.TransportError`.
- `fetch`: `fetch_image` (and `fetch_image_sync` for worker threads) gets an input image from a
  data URI or an https URL within the rules above, 16 MiB at most, or raises `ImageFetchError`.
"""

from reelgate.errors import ImageFetchError, UrlRefused
from reelgate.outbound.addresses import IPAddress, IPNetwork, blocked_reason, is_global
from reelgate.outbound.fetch import (
    MAX_IMAGE_BYTES,
    decode_data_image,
    fetch_image,
    fetch_image_sync,
    image_format,
)
from reelgate.outbound.policy import MAX_URL_CHARS, OutboundPolicy
from reelgate.outbound.transport import (
    GuardedTransport,
    OutboundRefused,
    Resolver,
    guarded_client,
    system_resolver,
)

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_URL_CHARS",
    "GuardedTransport",
    "IPAddress",
    "IPNetwork",
    "ImageFetchError",
    "OutboundPolicy",
    "OutboundRefused",
    "Resolver",
    "UrlRefused",
    "blocked_reason",
    "decode_data_image",
    "fetch_image",
    "fetch_image_sync",
    "guarded_client",
    "image_format",
    "is_global",
    "system_resolver",
]
