"""Process settings, read from `REELGATE_*` environment variables.

Every setting has a working default for one machine; `Settings.validate_for_start` is called by
every long-running command before it does anything, so a bad combination fails at start-up with a
message that names the setting rather than minutes later inside a worker.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reelgate.errors import SettingsError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELGATE_", extra="ignore")

    data_dir: Path = Path("./reelgate-data")
    database_url: str | None = None
    storage_url: str | None = None
    public_url: str | None = None
    api_keys: str = ""
    # Keys with admin rights (the Operate routes: keys, workers, queues), comma-separated. Each
    # is a key on its own: it need not be in `api_keys` too. Empty: no environment key is admin.
    admin_api_keys: str = ""
    webhook_secret: str | None = None
    link_secret: str | None = None
    link_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    workers: int = Field(default=1, ge=0, le=64)
    models_file: Path | None = None
    outbound_allow: str = ""
    # Quota: queued + running tasks one key may hold; more creates get 429 rate_limited.
    max_active_tasks_per_key: int = Field(default=100, ge=1)
    # Running tasks per key across all workers; beyond it a key's queued tasks wait (Runway's
    # THROTTLED) so one key cannot occupy every worker. Unset: no cap.
    max_running_tasks_per_key: int | None = Field(default=None, ge=1)
    # Request rate per key (token bucket): `rate_per_minute` sustained, `rate_burst` at once.
    rate_per_minute: float = Field(default=600.0, gt=0)
    rate_burst: int = Field(default=60, ge=1)
    # Failed authentications allowed per client address and minute; past it a wrong key gets
    # 429 rather than 401 (a valid key from the same address is still let in).
    auth_failures_per_minute: float = Field(default=30.0, gt=0)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated addresses
    # or CIDRs. Empty: none, so the client address is always the connection's peer.
    trusted_proxies: str = ""

    # HTTP connections (see reelgate/http.py): the largest request head, how long a head may take
    # to arrive, how long a body may pause and take in all, how long an idle keep-alive
    # connection is kept, and how many connections and requests are served at once (beyond it:
    # 503).
    http_max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    http_header_timeout_seconds: float = Field(default=15.0, gt=0)
    http_body_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    http_body_timeout_seconds: float = Field(default=300.0, gt=0)
    http_keepalive_seconds: int = Field(default=5, ge=1, le=3600)
    http_max_connections: int = Field(default=1000, ge=1)

    # Leases: a worker that stops heart-beating loses its task after `lease_seconds`; the task is
    # then claimed again (attempt + 1) until `max_attempts` claims have been made.
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=100)
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    reap_seconds: float = Field(default=5.0, gt=0)
    # Outputs (video, poster) are deleted this many days after a task finishes; the task's
    # record stays and says its output expired.
    retention_days: float = Field(default=7.0, gt=0)
    sweep_seconds: float = Field(default=300.0, gt=0)
    # On SIGTERM running tasks get this long to finish before they are handed back to the queue.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)

    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    notifier_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Seconds before each delivery attempt, the first included; empty: the Standard Webhooks
    # schedule (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h).
    webhook_retry_schedule: str = ""

    # Observability (docs/operations.md): `json` writes one JSON object per log line with the
    # request, task, attempt, key and worker ids; `text` (the default) suits a terminal.
    log_format: Literal["text", "json"] = "text"
    # GET /metrics on the HTTP processes (and `worker --metrics-port`); false turns it all off.
    metrics_enabled: bool = True

    def retry_schedule(self) -> tuple[float, ...] | None:
        """The operator's retry schedule, or None for the standard one."""
        if not self.webhook_retry_schedule.strip():
            return None
        try:
            delays = tuple(float(v) for v in self.webhook_retry_schedule.split(","))
        except ValueError as exc:
            raise SettingsError(
                "REELGATE_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds"
            ) from exc
        if any(d < 0 or d != d for d in delays):
            raise SettingsError("REELGATE_WEBHOOK_RETRY_SCHEDULE: delays must be >= 0")
        return delays

    def trusted_proxy_list(self) -> list[str]:
        """REELGATE_TRUSTED_PROXIES as addresses and networks; SettingsError when malformed."""
        entries = [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise SettingsError(
                    f"REELGATE_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network"
                ) from exc
        return entries

    def validate_for_start(self) -> None:
        """Reject combinations that would misbehave at run time."""
        if self.lease_seconds < 3 * self.heartbeat_seconds:
            raise SettingsError(
                "REELGATE_LEASE_SECONDS must be at least 3 x REELGATE_HEARTBEAT_SECONDS "
                f"(got lease {self.lease_seconds:g}s, heartbeat {self.heartbeat_seconds:g}s): "
                "a lease shorter than three heartbeats expires on a single slow beat"
            )
        self.outbound_allow_rules()  # raises on a malformed entry
        self.retry_schedule()
        self.trusted_proxy_list()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reelgate.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.data_dir / 'blobs').resolve()}"

    def static_api_keys(self) -> list[str]:
        """Every key from the environment, REELGATE_API_KEYS and REELGATE_ADMIN_API_KEYS."""
        keys = [k.strip() for k in f"{self.api_keys},{self.admin_api_keys}".split(",")]
        return list(dict.fromkeys(k for k in keys if k))

    def static_admin_keys(self) -> frozenset[str]:
        """The keys of REELGATE_ADMIN_API_KEYS."""
        return frozenset(k.strip() for k in self.admin_api_keys.split(",") if k.strip())

    def outbound_allow_rules(
        self,
    ) -> tuple[frozenset[str], tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
        """Host names and CIDR blocks exempted from the outbound address rule."""
        hosts: set[str] = set()
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in self.outbound_allow.split(","):
            item = raw.strip()
            if not item:
                continue
            if "/" in item or _looks_like_ip(item):
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except ValueError as exc:
                    raise SettingsError(
                        f"REELGATE_OUTBOUND_ALLOW: {item!r} is not a valid CIDR block"
                    ) from exc
            else:
                hosts.add(item.lower().rstrip("."))
        return frozenset(hosts), tuple(nets)


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True
