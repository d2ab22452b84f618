"""The `upstream` engine: another service renders the task; reelgate submits it once, waits,
and downloads the result for the worker to publish as its own.

Submitted once, never twice:
* A task that an earlier attempt submitted carries its `UpstreamRef` (endpoint and job id): the
  engine resumes polling that job and never creates another.
* A new submission is recorded (`ctx.record`) as the very next step after the upstream's answer,
  before any other I/O. The window in which a crash loses the id is therefore the time between
  the upstream accepting and one database write. The create also carries
  `Idempotency-Key: <task id>`, so an upstream that honours it (reelgate does) maps a repeated
  create to the same job even then.
* A create is repeated only when the upstream said it did not take it: no connection could be
  made (the next endpoint is tried and the refusing one rests for `cooldown_seconds`), 429
  (after its `Retry-After`) or a 5xx. A create whose answer was lost (a timeout, a broken
  connection, an answer that is not JSON) may have been accepted: the task fails clearly
  instead of risking a second job.

Status polls and downloads are safe to repeat and are retried with backoff and jitter, never
past the job's deadline: `timeout_seconds` after this worker began waiting on it (a worker that
takes a job over starts the count afresh), for the wait and the download together; past it the
job is cancelled upstream and fails. Each poll also reports progress, which is where a lost
lease or a stopping worker interrupts a job that the upstream keeps waiting without progress.

A job is never left running for nobody: the owner's cancel and the timeout cancel it upstream,
and the job's end (as the upstream reports it, or our cancel) is recorded on the task. A task
that ends while its job may still run (cancelled or deleted while back in the queue after its
worker died, cancelled or failed by the reaper, failed on our side mid-job) has the job listed
as abandoned in the same transaction; a worker's sweep (worker/jobs.py) cancels it through
`abandon`.

Output links on a configured endpoint are trusted (and get the key); any other link (a CDN, a
redirect to a bucket) goes through the outbound guard and never sees the key. No message keeps
the key, should an upstream echo it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from reelgate.core.tasks import GenerationSpec, UpstreamRef
from reelgate.engines.base import JobContext
from reelgate.engines.upstream.calls import Call, counted
from reelgate.engines.upstream.config import Protocol, UpstreamConfig
from reelgate.engines.upstream.protocol import (
    VIDEO_TYPES,
    JobRequest,
    JobState,
    JobStatus,
    UpstreamClient,
    pool_limits,
    status_error,
    transport_error,
)
from reelgate.engines.upstream.translate import (
    folded_prompt,
    nearest_duration,
    nearest_ratio,
    nearest_size,
)
from reelgate.errors import (
    SettingsError,
    TaskInterrupted,
    UpstreamError,
    UpstreamFailed,
    UrlRefused,
)

log = logging.getLogger(__name__)

CANCELLED = "cancelled"  # the reason the worker understands as the owner's cancel
SUBMIT_ATTEMPTS = 6
STATUS_FAILURES = 8  # consecutive failed polls before the task fails
DOWNLOAD_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 300.0  # an upstream asking for longer is waited on no more than this
MAX_REDIRECTS = 3
CHUNK_BYTES = 1024 * 1024
MIN_SCRUBBED_KEY = 8  # characters


def client_for(config: UpstreamConfig, api_key: str) -> UpstreamClient:
    """The protocol client an entry speaks."""
    timeout = float(config.request_timeout_seconds)
    if config.protocol is Protocol.RUNWAY:
        from reelgate.engines.upstream.runway import RunwayClient

        return RunwayClient(api_key, timeout, config.concurrency)
    if config.protocol is Protocol.OPENAI:
        from reelgate.engines.upstream.openai import OpenAIClient

        return OpenAIClient(api_key, timeout, config.concurrency)
    from reelgate.engines.upstream.cometapi import CometApiClient

    return CometApiClient(api_key, timeout, config.concurrency)


def read_api_key(config: UpstreamConfig, environ: dict[str, str] | None = None) -> str:
    """The key from the variable the entry names; SettingsError when it is named but unset."""
    if config.api_key_env is None:
        return ""
    value = (os.environ if environ is None else environ).get(config.api_key_env, "")
    if not value:
        raise SettingsError(
            f"the environment variable {config.api_key_env} (api_key_env) is not set"
        )
    return value


class UpstreamEngine:
    """One models-file entry's upstream: its endpoints, their caps and their health."""

    name = "upstream"

    def __init__(
        self,
        config: UpstreamConfig,
        *,
        client: UpstreamClient | None = None,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._key = read_api_key(config) if api_key is None else api_key
        self._client = client or client_for(config, self._key)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._in_flight = dict.fromkeys(config.endpoints, 0)
        self._down_until = dict.fromkeys(config.endpoints, 0.0)
        self._starting = 0  # runs not yet placed on an endpoint
        self._origins = {_origin(e) for e in config.endpoints}
        self._trusted_http: httpx.AsyncClient | None = None

    # -- capacity ------------------------------------------------------------------------------
    def _healthy(self) -> list[str]:
        now = self._clock()
        return [e for e in self.config.endpoints if self._down_until[e] <= now]

    def has_capacity(self) -> bool:
        free = sum(max(0, self.config.concurrency - self._in_flight[e]) for e in self._healthy())
        return free > self._starting

    def _pick(self) -> str:
        """The least loaded healthy endpoint; when all rest, the one that rests least."""
        healthy = self._healthy() or [min(self._down_until, key=self._down_until.__getitem__)]
        return min(healthy, key=lambda e: (self._in_flight[e], self.config.endpoints.index(e)))

    def _rest(self, endpoint: str) -> None:
        self._down_until[endpoint] = self._clock() + float(self.config.cooldown_seconds)
        log.warning(
            "upstream %s refused a connection; skipped for %gs",
            endpoint,
            self.config.cooldown_seconds,
        )

    # -- one job -------------------------------------------------------------------------------
    async def run(self, spec: GenerationSpec, ctx: JobContext) -> Path:
        self._starting += 1  # before any await: the job runner relies on it (worker/jobs.py)
        placed = False
        ref = ctx.upstream
        try:
            if ref is None:
                ref = await self._submit(spec, ctx)
                # Nothing else happens between the upstream's answer and this write.
                await ctx.record(ref)
            self._starting -= 1
            placed = True
            self._in_flight[ref.endpoint] = self._in_flight.get(ref.endpoint, 0) + 1
            deadline = self._clock() + float(self.config.timeout_seconds)
            try:
                status = await self._wait(ref, ctx, deadline)
                return await self._download(ref, status, ctx, deadline)
            finally:
                self._in_flight[ref.endpoint] -= 1
        except UpstreamError as exc:
            exc.args = (self._safe(str(exc)),)
            raise
        finally:
            if not placed:
                self._starting -= 1

    def _safe(self, text: str) -> str:
        return scrub(text, self._key)

    def _request(self, spec: GenerationSpec, ctx: JobContext) -> JobRequest:
        config = self.config
        width, height = spec.width, spec.height
        if config.protocol is Protocol.RUNWAY:
            width, height = map(
                int, nearest_ratio(width, height, config.accepted_ratios).split(":")
            )
        elif config.protocol is Protocol.OPENAI:
            width, height = map(int, nearest_size(width, height, config.accepted_sizes).split("x"))
        image_url = spec.image.url if spec.image is not None else None
        if image_url is not None and not image_url.startswith(("https://", "data:")):
            image_url = None  # an uploaded file: sent as bytes (or a data URI)
        # CometAPI takes style and camera motion as fields; the others only in words.
        folded = config.protocol is not Protocol.COMETAPI
        return JobRequest(
            model=config.model,
            prompt=folded_prompt(spec) if folded else spec.prompt,
            width=width,
            height=height,
            seconds=nearest_duration(spec.seconds, config.accepted_durations),
            seed=spec.seed,
            style=spec.style,
            motion=spec.motion,
            image_url=image_url,
            image=ctx.image,
            extra=dict(config.extra),
            idempotency_key=ctx.task_id,
        )

    async def _submit(self, spec: GenerationSpec, ctx: JobContext) -> UpstreamRef:
        request = self._request(spec, ctx)
        for attempt in range(SUBMIT_ATTEMPTS):
            endpoint = self._pick()
            try:
                with counted("create"):
                    job_id = await self._client.submit(endpoint, request)
            except UpstreamError as exc:
                if exc.refused:
                    self._rest(endpoint)
                    if len(self._healthy()) > 0 and attempt < SUBMIT_ATTEMPTS - 1:
                        continue
                if not exc.retryable or attempt == SUBMIT_ATTEMPTS - 1:
                    raise
                if not exc.refused and exc.status is None:
                    # The request went out and its answer was lost: it may have been accepted.
                    raise UpstreamError(
                        f"{exc} (the create may have been accepted, so it is not repeated)"
                    ) from None
                await self._pause(exc, attempt)
                continue
            log.info("task %s submitted to %s as %s", ctx.task_id, endpoint, job_id)
            return UpstreamRef(endpoint=endpoint, job_id=job_id)
        raise UpstreamError("create: every attempt failed")

    async def _wait(self, ref: UpstreamRef, ctx: JobContext, deadline: float) -> JobStatus:
        """Poll until the job ends. Every poll also reports progress (the last known, when the
        upstream gives none), which is where a lost lease or a stopping process interrupts."""
        failures = 0
        progress = 0.0
        while True:
            if ctx.cancel_requested():
                await self._cancel_and_note(ref, ctx)
                raise TaskInterrupted(CANCELLED)
            if self._clock() >= deadline:
                await self._cancel_and_note(ref, ctx)
                raise UpstreamError(
                    f"the upstream did not finish within {self.config.timeout_seconds:g}s"
                )
            try:
                with counted("poll"):
                    status = await self._client.status(ref.endpoint, ref.job_id)
            except UpstreamError as exc:
                failures += 1
                if not exc.retryable or failures >= STATUS_FAILURES:
                    raise
                await self._pause(exc, failures - 1, deadline)
                continue
            failures = 0
            # Recorded: waiting at the upstream (THROTTLED) and back, for the console; and the
            # end, so a task that then fails on our side leaves no live job for the sweep.
            if status.state.value != ref.state and (
                status.state.terminal
                or status.state is JobState.THROTTLED
                or ref.state == JobState.THROTTLED.value
            ):
                ref = UpstreamRef(ref.endpoint, ref.job_id, status.state.value)
                await ctx.record(ref)
            progress = max(progress, status.progress or 0.0)
            await ctx.report(progress)
            if status.state is JobState.SUCCEEDED:
                return status
            if status.state is JobState.FAILED:
                raise UpstreamFailed(
                    status.failure or "the upstream failed the task",
                    status.failure_code or "UPSTREAM.FAILED",
                )
            if status.state is JobState.CANCELLED:
                raise UpstreamFailed("the upstream cancelled the task", "UPSTREAM.CANCELLED")
            jitter = 1 + self._rng.uniform(-0.1, 0.1)
            await self._sleep(self._until(deadline, float(self.config.poll_seconds) * jitter))

    async def abandon(self, ref: UpstreamRef) -> bool:
        """Cancel a job that no task waits on any more (its task was cancelled or failed while
        no worker held it). True when the upstream no longer has it running."""
        return await self._cancel_quietly(ref)

    async def _cancel_and_note(self, ref: UpstreamRef, ctx: JobContext) -> None:
        """Cancel the job being waited on and record that it ended, so that it is not swept up
        as abandoned later. Recording needs the lease; without it the sweep cancels again."""
        if await self._cancel_quietly(ref):
            with contextlib.suppress(TaskInterrupted):
                await ctx.record(ref.ended(JobState.CANCELLED.value))

    async def _cancel_quietly(self, ref: UpstreamRef) -> bool:
        """Ask the upstream to cancel the job; True when it did or no longer knows the job (404),
        False (and a warning) when the call failed."""
        try:
            with counted("cancel"):
                await self._client.cancel(ref.endpoint, ref.job_id)
        except UpstreamError as exc:
            if exc.status == 404:
                return True
            log.warning(
                "could not cancel upstream job %s at %s: %s",
                ref.job_id,
                ref.endpoint,
                self._safe(str(exc)),
            )
            return False
        return True

    async def _pause(self, exc: UpstreamError, attempt: int, deadline: float | None = None) -> None:
        """Wait before a retry: the upstream's Retry-After when it sent one, else exponential
        backoff with full jitter; never past `deadline` (the job's overall timeout)."""
        if exc.retry_after_seconds is not None:
            delay = min(exc.retry_after_seconds, MAX_RETRY_AFTER_SECONDS)
        else:
            ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
            delay = self._rng.uniform(0, ceiling)
        if deadline is not None:
            delay = self._until(deadline, delay)
        log.info("upstream call failed (%s); retrying in %.1fs", self._safe(str(exc)), delay)
        await self._sleep(delay)

    def _until(self, deadline: float, delay: float) -> float:
        return max(0.0, min(delay, deadline - self._clock()))

    # -- the result ----------------------------------------------------------------------------
    def _trusted(self, url: str) -> bool:
        return _origin(url) in self._origins

    def _http(self, ctx: JobContext, url: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
        """The client for `url` and its headers: the key only for a configured endpoint."""
        if not self._trusted(url):
            return ctx.guarded_client, {}
        if self._trusted_http is None:
            timeout = float(self.config.request_timeout_seconds)
            self._trusted_http = httpx.AsyncClient(
                timeout=timeout,
                follow_redirects=False,
                limits=pool_limits(self.config.concurrency),
            )
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        return self._trusted_http, headers

    async def _download(
        self, ref: UpstreamRef, status: JobStatus, ctx: JobContext, deadline: float
    ) -> Path:
        """Fetch the output, retrying what may be retried, all within the job's timeout (a
        server that trickles its bytes cannot hold the job for ever)."""
        url = self._client.content_url(ref.endpoint, ref.job_id, status)
        target = ctx.work_dir / "upstream.mp4"
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                await asyncio.wait_for(self._fetch(url, target, ctx), self._until(deadline, 1e9))
            except TimeoutError:
                raise UpstreamError(
                    f"download: not finished within the job's {self.config.timeout_seconds:g}s"
                ) from None
            except UpstreamError as exc:
                if not exc.retryable or attempt == DOWNLOAD_ATTEMPTS - 1:
                    raise
                await self._pause(exc, attempt, deadline)
                continue
            return target
        raise UpstreamError("download: every attempt failed")

    async def _fetch(self, url: str, target: Path, ctx: JobContext) -> None:
        """Stream `url` into `target`, following at most a few redirects (each judged afresh)."""
        for _ in range(MAX_REDIRECTS + 1):
            client, headers = self._http(ctx, url)
            try:
                with counted("download") as call:
                    location = await self._get(client, url, headers, target, call)
            except UrlRefused as exc:  # the outbound guard: a policy decision, not a fault
                raise UpstreamError(f"download: the output link is refused: {exc}") from None
            except httpx.TransportError as exc:
                raise transport_error("download", exc) from None
            if location is None:
                return
            url = urljoin(url, location)
        raise UpstreamError(f"download: more than {MAX_REDIRECTS} redirects")

    async def _get(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str], target: Path, call: Call
    ) -> str | None:
        """One GET of the output: a redirect's location, or None once `target` holds the video.
        A body over the cap or of a type that is not a video is refused."""
        limit = self.config.max_output_bytes
        async with client.stream("GET", url, headers=headers) as response:
            call.answered(response.status_code)
            if response.is_redirect and "location" in response.headers:
                return response.headers["location"]
            if response.status_code != 200:
                body = (await response.aread())[:2000].decode(errors="replace")
                raise status_error("download", response.status_code, body, response.headers)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in VIDEO_TYPES:
                raise UpstreamError(f"download: the output is {kind or 'untyped'}, not a video")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise UpstreamError(f"download: the output exceeds {limit} bytes")
            size = 0
            with target.open("wb") as file:
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise UpstreamError(f"download: the output exceeds {limit} bytes")
                    file.write(chunk)
        return None

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._trusted_http is not None:
            await self._trusted_http.aclose()


def scrub(text: str, key: str) -> str:
    """`text` without the key, should an upstream ever echo it back in an error (a key of a
    few characters is a placeholder, and would mangle words instead)."""
    return text.replace(key, "[key]") if len(key) >= MIN_SCRUBBED_KEY else text


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port
