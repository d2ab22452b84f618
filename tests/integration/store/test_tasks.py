"""The task store's contract: creating, reading, claiming, leases, fencing, progress, finishing."""

from __future__ import annotations

import threading
import time

import pytest

from reelgate.core.tasks import FailureCode, MediaInfo, Outputs, TaskStatus, UpstreamRef
from reelgate.errors import QuotaExceededError
from reelgate.store.base import Claim, Store
from tests.integration.store.conftest import FakeClock
from tests.integration.store.factory import HOOK, OWNER, add_task, new_task

OUTPUTS = Outputs(video_key="tasks/x/1/video.mp4", poster_key="tasks/x/1/poster.jpg")


def test_created_task_reads_back_for_its_owner_only(store: Store) -> None:
    task_id = add_task(store)
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.QUEUED
    assert task.spec.seed == 7
    assert (task.dialect, task.api_version) == ("cometapi", "2024-11-06")
    assert store.tasks.get(task_id, "someone_else") is None
    assert store.tasks.get(task_id, None) == task  # internal callers see every task


def test_request_id_and_trace_context_read_back(store: Store) -> None:
    trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    created = store.tasks.create(new_task(request_id="req_abc123", trace_context=trace))
    assert (created.request_id, created.trace_context) == ("req_abc123", trace)
    task = store.tasks.get(created.id, OWNER)
    assert task is not None
    assert task.request_id == "req_abc123"
    assert task.trace_context == trace
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert claim.task.trace_context == trace  # the worker joins the creator's trace
    plain = store.tasks.get(add_task(store), OWNER)
    assert plain is not None
    assert (plain.request_id, plain.trace_context, plain.timings, plain.upstream) == (
        None,
        None,
        None,
        None,
    )


def test_claim_takes_oldest_queued_and_bumps_attempt(store: Store) -> None:
    now = time.time()
    newer = add_task(store, created_at=now + 1)
    older = add_task(store, created_at=now)
    claim = store.tasks.claim("w1", lease_seconds=30)
    assert claim is not None
    assert claim.task.id == older  # by creation time, not by insertion
    assert claim.task.status is TaskStatus.RUNNING
    assert claim.task.attempt == 1
    assert claim.task.started_at is not None
    second = store.tasks.claim("w2", lease_seconds=30)
    assert second is not None
    assert second.task.id == newer
    assert store.tasks.claim("w3", lease_seconds=30) is None


def test_claim_respects_models(store: Store) -> None:
    gen4 = add_task(store, model="gen4")
    veo = add_task(store, model="veo3")
    assert store.tasks.claim("w1", 30, models=["sora-2"]) is None
    claim = store.tasks.claim("w1", 30, models=["veo3"])
    assert claim is not None
    assert claim.task.id == veo
    claim = store.tasks.claim("w1", 30, models=["sora-2", "gen4"])
    assert claim is not None
    assert claim.task.id == gen4


def test_concurrent_claims_never_share_a_task(store: Store) -> None:
    ids = {add_task(store) for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            claim = store.tasks.claim(name, 30)
            if claim is None:
                return
            with lock:
                claimed.append(claim.task.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_stale_lease_cannot_write_after_reclaim(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    add_task(store)
    stale = store.tasks.claim("w1", lease_seconds=30)
    assert stale is not None
    assert store.tasks.reap_expired(max_attempts=3).requeued == 0  # the lease still holds
    clock.advance(31)
    reaped = store.tasks.reap_expired(max_attempts=3)
    assert (reaped.requeued, reaped.failed, reaped.cancelled) == (1, [], [])
    fresh = store.tasks.claim("w2", lease_seconds=30)
    assert fresh is not None
    assert fresh.task.attempt == 2
    assert not store.tasks.report_progress(stale, 0.5).held
    assert not store.tasks.heartbeat(stale, 30).held
    assert not store.tasks.record_upstream(stale, UpstreamRef("https://up.example", "job_1"))
    assert not store.tasks.succeed(stale, OUTPUTS)
    assert not store.tasks.fail(stale, "late", FailureCode.INTERNAL)
    assert not store.tasks.cancelled(stale)
    assert not store.tasks.release(stale)
    assert store.tasks.heartbeat(fresh, 30).held
    assert store.tasks.succeed(fresh, OUTPUTS)
    task = store.tasks.get(fresh.task.id, None)
    assert task is not None
    assert task.status is TaskStatus.SUCCEEDED
    assert task.outputs == OUTPUTS
    assert task.progress == 1.0
    assert task.percent == 100


def test_heartbeat_keeps_the_lease(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    add_task(store)
    claim = store.tasks.claim("w", lease_seconds=30)
    assert claim is not None
    for _ in range(3):
        clock.advance(20)
        assert store.tasks.heartbeat(claim, 30).held
        assert store.tasks.reap_expired(max_attempts=1).finished == []
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=1).failed == [claim.task.id]


def test_record_upstream_reads_back_and_is_fenced(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    task_id = add_task(store)
    first = store.tasks.claim("w1", lease_seconds=30)
    assert first is not None
    ref = UpstreamRef(endpoint="https://api.dev.runwayml.com", job_id="job_123")
    assert store.tasks.record_upstream(first, ref)
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.upstream == ref
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=3).requeued == 1
    second = store.tasks.claim("w2", lease_seconds=30)
    assert second is not None
    assert second.task.upstream == ref  # the replacement resumes the job, not a new one
    assert not store.tasks.record_upstream(first, UpstreamRef("https://other", "job_stale"))
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.upstream == ref


def _submitted(store: Store, job_id: str, state: str = "submitted", model: str = "gen4") -> Claim:
    """A new task, claimed, whose job `job_id` the worker recorded at the upstream."""
    add_task(store, model=model)
    claim = store.tasks.claim("w1", 30, [model])
    assert claim is not None
    assert store.tasks.record_upstream(claim, UpstreamRef("https://up.example", job_id, state))
    return claim


def test_a_task_that_ends_while_its_upstream_job_is_live_leaves_the_job_until_settled(
    timed_store: Store, clock: FakeClock
) -> None:
    store = timed_store
    # Cancelled while its worker was gone: the reaper settles it.
    reaped = _submitted(store, "job_reaped", "THROTTLED").task.id
    assert store.tasks.request_cancel(reaped, OWNER) is not None
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=3).cancelled == [reaped]
    # Out of attempts when its worker died.
    dead = _submitted(store, "job_dead").task.id
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=1).failed == [dead]
    # Back in the queue after its worker died, then cancelled there.
    requeued = _submitted(store, "job_requeued").task.id
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=3).requeued == 1
    assert store.tasks.request_cancel(requeued, OWNER) is not None
    # Failed on our side while its job ran (another model).
    failed = _submitted(store, "job_failed", model="gen3")
    assert store.tasks.fail(failed, "upstream: status: HTTP 502", FailureCode.INTERNAL)
    # Nothing left behind: a job that ended upstream, a success, a task still running, a task
    # never submitted.
    ended = _submitted(store, "job_ended", "FAILED")
    assert store.tasks.fail(ended, "flagged", "SAFETY.INPUT.TEXT")
    assert store.tasks.succeed(_submitted(store, "job_ok"), OUTPUTS)
    _submitted(store, "job_running")
    assert store.tasks.request_cancel(add_task(store), OWNER) is not None

    def left(models: list[str], limit: int = 10) -> dict[str, str]:
        return {j.task_id: j.ref.job_id for j in store.tasks.abandoned_upstream(models, limit)}

    gen4 = {reaped: "job_reaped", dead: "job_dead", requeued: "job_requeued"}
    assert left(["gen4"]) == gen4
    assert left(["gen4", "gen3"]) == {**gen4, failed.task.id: "job_failed"}
    assert len(left(["gen4", "gen3"], limit=2)) == 2
    assert left([]) == {}
    [job] = store.tasks.abandoned_upstream(["gen3"], 10)
    assert (job.model, job.ref) == ("gen3", UpstreamRef("https://up.example", "job_failed"))

    # The job outlives its task; settled, it is gone, and a task that still exists records the
    # job's end (a job given up on leaves the task as it was).
    assert store.tasks.delete(requeued, OWNER) is not None
    assert left(["gen4"]) == gen4
    cancelled = UpstreamRef("https://up.example", "job_reaped", "CANCELLED")
    store.tasks.settle_upstream(reaped, cancelled)
    store.tasks.settle_upstream(requeued, UpstreamRef("https://up.example", "job_requeued"))
    store.tasks.settle_upstream(dead, None)
    assert left(["gen4", "gen3"]) == {failed.task.id: "job_failed"}
    reaped_task, dead_task = store.tasks.get(reaped, OWNER), store.tasks.get(dead, OWNER)
    assert reaped_task is not None
    assert dead_task is not None
    assert reaped_task.upstream == cancelled
    assert dead_task.upstream == UpstreamRef("https://up.example", "job_dead")


def test_a_postponed_abandoned_job_waits_its_turn(store: Store) -> None:
    first = _submitted(store, "job_first")
    assert store.tasks.fail(first, "upstream: status: HTTP 502", FailureCode.INTERNAL)
    second = _submitted(store, "job_second")
    assert store.tasks.fail(second, "upstream: status: HTTP 502", FailureCode.INTERNAL)
    store.tasks.postpone_upstream(first.task.id, 3600)
    assert [j.task_id for j in store.tasks.abandoned_upstream(["gen4"], 10)] == [second.task.id]
    store.tasks.postpone_upstream(first.task.id, 0)
    assert {j.task_id for j in store.tasks.abandoned_upstream(["gen4"], 10)} == {
        first.task.id,
        second.task.id,
    }


def test_succeed_keeps_timings_and_probed_media(store: Store) -> None:
    add_task(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    media = MediaInfo(
        width=1280, height=720, fps=24.0, frames=120, duration_seconds=5.0, size_bytes=912_345
    )
    timings = {"queue_wait": 0.25, "load": 4.5, "cold": 1.0, "engine": 12.75, "upload": 0.5}
    assert store.tasks.succeed(claim, Outputs("v.mp4", "p.jpg", media), timings=timings)
    task = store.tasks.get(claim.task.id, OWNER)
    assert task is not None
    assert task.outputs == Outputs("v.mp4", "p.jpg", media)
    assert task.timings == timings
    assert task.finished_at is not None


def test_fail_keeps_failure_and_timings(store: Store) -> None:
    add_task(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.fail(claim, "bad image", FailureCode.ASSET_INVALID, {"engine": 0.5})
    task = store.tasks.get(claim.task.id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.FAILED
    assert (task.failure, task.failure_code) == ("bad image", "ASSET.INVALID")
    assert task.timings == {"engine": 0.5}
    assert task.outputs is None


def test_reaper_fails_task_after_last_attempt(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    task_id = add_task(store, callback=HOOK)
    for _ in range(2):
        claim = store.tasks.claim("w", lease_seconds=30)
        assert claim is not None
        clock.advance(31)
        store.tasks.reap_expired(max_attempts=2)
    task = store.tasks.get(task_id, None)
    assert task is not None
    assert task.status is TaskStatus.FAILED
    assert task.failure_code == "INTERNAL"
    assert "2 attempts" in (task.failure or "")
    events = store.outbox.events_for_task(task_id, OWNER)
    assert [e.event_type for e in events] == ["task.failed"]


def test_reaper_cancels_an_expired_task_whose_cancel_was_asked(
    timed_store: Store, clock: FakeClock
) -> None:
    store = timed_store
    task_id = add_task(store, callback=HOOK)
    claim = store.tasks.claim("w", lease_seconds=30)
    assert claim is not None
    store.tasks.request_cancel(task_id, OWNER)
    clock.advance(31)
    reaped = store.tasks.reap_expired(max_attempts=3)
    assert reaped.cancelled == [task_id]
    assert reaped.requeued == 0
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.CANCELLED
    events = store.outbox.events_for_task(task_id, OWNER)
    assert [e.event_type for e in events] == ["task.cancelled"]


def test_progress_never_goes_backwards_and_stops_short_of_done(store: Store) -> None:
    add_task(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.report_progress(claim, 0.6).held
    assert store.tasks.report_progress(claim, 0.3).held
    task = store.tasks.get(claim.task.id, None)
    assert task is not None
    assert task.progress == pytest.approx(0.6)
    assert store.tasks.report_progress(claim, 1.5).held
    task = store.tasks.get(claim.task.id, None)
    assert task is not None
    assert task.progress == pytest.approx(0.99)
    assert task.percent == 99


def test_release_returns_task_without_counting_the_attempt(store: Store) -> None:
    task_id = add_task(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.release(claim)
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert (task.status, task.attempt) == (TaskStatus.QUEUED, 0)
    again = store.tasks.claim("w2", 30)
    assert again is not None
    assert again.task.attempt == 1


def test_cancel_of_a_running_task_reaches_its_worker(store: Store) -> None:
    task_id = add_task(store, callback=HOOK)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    flagged = store.tasks.request_cancel(task_id, OWNER)
    assert flagged is not None
    assert (flagged.status, flagged.cancel_requested) == (TaskStatus.RUNNING, True)
    assert store.tasks.report_progress(claim, 0.5).cancel_requested
    state = store.tasks.heartbeat(claim, 30)
    assert state.held
    assert state.cancel_requested
    assert store.tasks.cancelled(claim)
    task = store.tasks.get(task_id, None)
    assert task is not None
    assert task.status is TaskStatus.CANCELLED
    assert [e.event_type for e in store.outbox.events_for_task(task_id, OWNER)] == [
        "task.cancelled"
    ]


def test_cancel_of_a_queued_task_is_immediate_and_owner_scoped(store: Store) -> None:
    task_id = add_task(store, callback=HOOK)
    assert store.tasks.request_cancel(task_id, "someone_else") is None
    cancelled = store.tasks.request_cancel(task_id, OWNER)
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.failure_code == "CANCELLED"
    assert store.tasks.claim("w", 30) is None
    assert [e.event_type for e in store.outbox.events_for_task(task_id, OWNER)] == [
        "task.cancelled"
    ]


def test_quota_counts_queued_and_running(store: Store) -> None:
    for _ in range(2):
        add_task(store)
    assert store.tasks.claim("w", 30) is not None
    with pytest.raises(QuotaExceededError) as over:
        store.tasks.create(new_task(), max_active=2)
    assert (over.value.active, over.value.limit) == (2, 2)
    assert store.tasks.count_active(OWNER) == 2
    assert store.tasks.count_active("another") == 0
    store.tasks.create(new_task(owner="another"), max_active=1)
    assert store.tasks.count_active("another") == 1


def test_running_cap_skips_owners_at_their_limit(store: Store) -> None:
    now = time.time()
    first = add_task(store, owner="a", created_at=now)
    second = add_task(store, owner="a", created_at=now + 1)
    other = add_task(store, owner="b", created_at=now + 2)
    claim = store.tasks.claim("w1", 30, max_running_per_owner=1)
    assert claim is not None
    assert claim.task.id == first
    next_claim = store.tasks.claim("w2", 30, max_running_per_owner=1)
    assert next_claim is not None
    assert next_claim.task.id == other  # `second` waits: owner a is at its cap
    assert store.tasks.claim("w3", 30, max_running_per_owner=1) is None
    assert store.tasks.count_running("a") == 1
    assert store.tasks.succeed(claim, Outputs("v", "p"))
    last = store.tasks.claim("w1", 30, max_running_per_owner=1)
    assert last is not None
    assert last.task.id == second


def test_list_pages_by_cursor_in_both_orders(store: Store) -> None:
    now = time.time()
    ids = [add_task(store, created_at=now + i) for i in range(5)]
    add_task(store, owner="someone-else", created_at=now)
    page = store.tasks.list_for_owner(OWNER, after=None, limit=2, newest_first=False)
    assert [t.id for t in page] == ids[:2]
    page = store.tasks.list_for_owner(OWNER, after=ids[1], limit=10, newest_first=False)
    assert [t.id for t in page] == ids[2:]
    page = store.tasks.list_for_owner(OWNER, after=None, limit=3, newest_first=True)
    assert [t.id for t in page] == ids[::-1][:3]
    page = store.tasks.list_for_owner(OWNER, after=ids[2], limit=10, newest_first=True)
    assert [t.id for t in page] == ids[:2][::-1]
    assert (
        store.tasks.list_for_owner("someone-else", after=ids[0], limit=5, newest_first=True) == []
    )


def test_list_filters_by_status_and_model(store: Store) -> None:
    now = time.time()
    turbo = [add_task(store, model="gen4_turbo", created_at=now + i) for i in range(3)]
    plain = add_task(store, created_at=now + 3)
    claim = store.tasks.claim("w", 30, models=["gen4"])
    assert claim is not None
    assert claim.task.id == plain

    def listed(after: str | None = None, **filters: str) -> list[str]:
        page = store.tasks.list_for_owner(OWNER, after=after, limit=2, newest_first=True, **filters)
        return [t.id for t in page]

    assert listed(model="gen4_turbo") == turbo[::-1][:2]
    assert listed(after=turbo[1], model="gen4_turbo") == [turbo[0]]
    assert listed(status="running") == [plain]
    assert listed(status="queued", model="gen4") == []
    assert (
        store.tasks.list_for_owner(
            "someone-else", after=None, limit=5, newest_first=True, model="gen4_turbo"
        )
        == []
    )


def test_get_many_reads_every_known_id_in_one_call(store: Store) -> None:
    mine = add_task(store)
    theirs = add_task(store, owner="someone-else")
    found = store.tasks.get_many([mine, theirs, "00000000-0000-4000-8000-000000000000"])
    assert sorted(t.id for t in found) == sorted([mine, theirs])
    assert store.tasks.get_many([]) == []


def test_only_finished_tasks_are_deleted(store: Store) -> None:
    task_id = add_task(store)
    assert store.tasks.delete(task_id, OWNER) is None
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.delete(task_id, OWNER) is None
    assert store.tasks.succeed(claim, Outputs("v", "p"))
    assert store.tasks.delete(task_id, "not-the-owner") is None
    deleted = store.tasks.delete(task_id, OWNER)
    assert deleted is not None
    assert deleted.status is TaskStatus.SUCCEEDED
    assert store.tasks.get(task_id, OWNER) is None


def test_outputs_expire_after_retention(store: Store) -> None:
    kept = add_task(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.succeed(claim, OUTPUTS)
    add_task(store)  # still queued: nothing to expire
    assert store.tasks.outputs_to_expire(finished_before=time.time() - 3600, limit=10) == []
    assert store.tasks.outputs_to_expire(finished_before=time.time() + 1, limit=10) == [kept]
    store.tasks.mark_outputs_expired(kept)
    task = store.tasks.get(kept, OWNER)
    assert task is not None
    assert (task.outputs, task.outputs_expired) == (None, True)
    assert store.tasks.outputs_to_expire(finished_before=time.time() + 1, limit=10) == []
