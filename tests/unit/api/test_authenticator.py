"""Authenticator: who a bearer key is, the limits that apply to them, and what a caller with a
bad or missing key, or too many requests, is told."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial

import pytest
from starlette.requests import Request

from reelgate.api.auth import Authenticator, Principal, require_admin
from reelgate.errors import ApiError, ErrorKind
from reelgate.settings import Settings
from reelgate.store.memory import MemoryStore

ENV_KEY = "rg_env_key_for_ci"
OTHER_ENV_KEY = "rg_env_key_for_staging"
CLIENT = "203.0.113.7"


def settings(**values: object) -> Settings:
    defaults: dict[str, object] = {
        "api_keys": f"{ENV_KEY}, {OTHER_ENV_KEY}",
        "max_active_tasks_per_key": 7,
        "rate_per_minute": 600.0,
        "rate_burst": 60,
        "auth_failures_per_minute": 30.0,
    }
    return Settings(**(defaults | values))  # type: ignore[arg-type]


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def bearer(key: str) -> str:
    return f"Bearer {key}"


def test_an_environment_key_owns_its_tasks_under_a_stable_id() -> None:
    store = MemoryStore()
    principal = Authenticator(settings(), store.keys).authenticate(bearer(ENV_KEY), CLIENT)

    expected = "env_" + hashlib.sha256(ENV_KEY.encode()).hexdigest()[:16]
    assert principal == Principal(expected, max_active_tasks=7, rate_per_minute=600.0)
    # The same key after a restart (a new Authenticator) owns the same tasks; another key not.
    again = Authenticator(settings(), store.keys).authenticate(bearer(ENV_KEY), CLIENT)
    other = Authenticator(settings(), store.keys).authenticate(bearer(OTHER_ENV_KEY), CLIENT)
    assert again.owner_id == expected
    assert other.owner_id != expected


def test_a_stored_key_is_its_record_with_its_own_limits() -> None:
    store = MemoryStore()
    tuned, tuned_key = store.keys.create("ci", max_active_tasks=3, rate_per_minute=30.0)
    plain, plain_key = store.keys.create("laptop")
    auth = Authenticator(settings(), store.keys)

    assert auth.authenticate(bearer(tuned_key), CLIENT) == Principal(tuned.id, 3, 30.0)
    assert auth.authenticate(bearer(plain_key), CLIENT) == Principal(plain.id, 7, 600.0)


def test_an_admin_environment_key_is_an_admin_and_the_others_are_not() -> None:
    admin_key = "rg_env_admin_key"
    store = MemoryStore()
    _, stored_key = store.keys.create("laptop")
    auth = Authenticator(settings(admin_api_keys=f" {admin_key} ,{ENV_KEY}"), store.keys)

    admin = auth.authenticate(bearer(admin_key), CLIENT)
    also_admin = auth.authenticate(bearer(ENV_KEY), CLIENT)  # in both lists: admin
    plain = auth.authenticate(bearer(OTHER_ENV_KEY), CLIENT)

    assert admin.admin
    assert also_admin.admin
    assert not plain.admin
    assert not auth.authenticate(bearer(stored_key), CLIENT).admin
    # The owner id is the key's alone: moving a key between the lists keeps its tasks.
    assert admin.owner_id == "env_" + hashlib.sha256(admin_key.encode()).hexdigest()[:16]
    assert (admin.max_active_tasks, admin.rate_per_minute) == (7, 600.0)


def test_a_stored_key_made_admin_is_an_admin_until_revoked() -> None:
    store = MemoryStore()
    record, key = store.keys.create("operator", admin=True)
    auth = Authenticator(settings(), store.keys)

    assert auth.authenticate(bearer(key), CLIENT) == Principal(record.id, 7, 600.0, admin=True)
    store.keys.revoke(record.id)
    assert refused(lambda: auth.authenticate(bearer(key), CLIENT)).kind is ErrorKind.INVALID_TOKEN


def test_require_admin_refuses_a_plain_key_with_admin_required() -> None:
    plain = Principal("key_1", 7, 600.0)

    error = refused(lambda: require_admin(plain))

    assert error.kind is ErrorKind.ADMIN_REQUIRED
    assert "admin key" in error.message
    assert require_admin(Principal("key_2", 7, 600.0, admin=True)).owner_id == "key_2"


def test_the_scheme_is_case_insensitive_and_spaces_around_the_key_are_ignored() -> None:
    auth = Authenticator(settings(), MemoryStore().keys)

    principal = auth.authenticate(f"bearer   {ENV_KEY}  ", CLIENT)

    assert principal.owner_id.startswith("env_")


def test_a_revoked_key_is_refused() -> None:
    store = MemoryStore()
    record, key = store.keys.create("leaked")
    auth = Authenticator(settings(), store.keys)
    auth.authenticate(bearer(key), CLIENT)

    assert store.keys.revoke(record.id)

    error = refused(lambda: auth.authenticate(bearer(key), CLIENT))
    assert (error.kind, error.message) == (ErrorKind.INVALID_TOKEN, "invalid token")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer    ",
        f"Basic {ENV_KEY}",
        f"Token {ENV_KEY}",
        ENV_KEY,
        f"Bearer {ENV_KEY}x",
        "Bearer rg_somebody_elses_key",
    ],
)
def test_a_missing_malformed_or_unknown_key_is_an_invalid_token(header: str | None) -> None:
    auth = Authenticator(settings(), MemoryStore().keys)

    error = refused(lambda: auth.authenticate(header, CLIENT))

    assert error.kind is ErrorKind.INVALID_TOKEN
    assert error.retry_after_seconds is None


def test_a_key_over_its_request_rate_is_told_when_to_retry() -> None:
    auth = Authenticator(settings(rate_per_minute=1.0, rate_burst=2), MemoryStore().keys)
    auth.authenticate(bearer(ENV_KEY), CLIENT)
    auth.authenticate(bearer(ENV_KEY), CLIENT)

    error = refused(lambda: auth.authenticate(bearer(ENV_KEY), CLIENT))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after_seconds == 60  # one token a minute
    assert "(1 per minute)" in error.message
    assert auth.authenticate(bearer(OTHER_ENV_KEY), CLIENT)  # every key has its own bucket


def test_a_stored_keys_rate_override_sets_its_own_pace() -> None:
    store = MemoryStore()
    _, fast_key = store.keys.create("batch", rate_per_minute=6.0)
    auth = Authenticator(settings(rate_per_minute=1.0, rate_burst=1), store.keys)
    auth.authenticate(bearer(fast_key), CLIENT)
    auth.authenticate(bearer(ENV_KEY), CLIENT)

    fast = refused(lambda: auth.authenticate(bearer(fast_key), CLIENT))
    slow = refused(lambda: auth.authenticate(bearer(ENV_KEY), CLIENT))

    assert (fast.retry_after_seconds, slow.retry_after_seconds) == (10, 60)
    assert "(6 per minute)" in fast.message


def test_an_address_over_its_failure_limit_gets_429_for_wrong_keys_only() -> None:
    auth = Authenticator(settings(auth_failures_per_minute=3.0), MemoryStore().keys)
    for attempt in range(3):
        guess = refused(partial(auth.authenticate, bearer(f"rg_guess_{attempt}"), CLIENT))
        assert guess.kind is ErrorKind.INVALID_TOKEN

    blocked = refused(partial(auth.authenticate, bearer("rg_guess_3"), CLIENT))

    assert blocked.kind is ErrorKind.RATE_LIMITED
    assert blocked.retry_after_seconds == 20  # three failures a minute: one every 20 s
    assert blocked.message == "too many failed authentication attempts from this address"
    # A valid key from the same address is let in: a guesser cannot lock out its neighbours.
    assert auth.authenticate(bearer(ENV_KEY), CLIENT).owner_id.startswith("env_")
    other = refused(partial(auth.authenticate, bearer("rg_guess_4"), "198.51.100.2"))
    assert other.kind is ErrorKind.INVALID_TOKEN  # other addresses keep their own budget


def test_successful_requests_do_not_count_as_failures() -> None:
    auth = Authenticator(settings(auth_failures_per_minute=2.0), MemoryStore().keys)

    for _ in range(10):
        auth.authenticate(bearer(ENV_KEY), CLIENT)

    assert refused(lambda: auth.authenticate(None, CLIENT)).kind is ErrorKind.INVALID_TOKEN


def test_a_failure_limit_below_one_a_minute_still_answers_the_first_failure_401() -> None:
    auth = Authenticator(settings(auth_failures_per_minute=0.5), MemoryStore().keys)

    assert auth.authenticate(bearer(ENV_KEY), CLIENT).owner_id.startswith("env_")
    first = refused(partial(auth.authenticate, bearer("rg_guess"), CLIENT))
    second = refused(partial(auth.authenticate, bearer("rg_guess"), CLIENT))
    assert (first.kind, second.kind) == (ErrorKind.INVALID_TOKEN, ErrorKind.RATE_LIMITED)
    assert second.retry_after_seconds == 120  # one failure every two minutes


def test_one_request_is_authenticated_once() -> None:
    auth = Authenticator(settings(rate_per_minute=1.0, rate_burst=1), MemoryStore().keys)
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/v1/tasks",
            "headers": [(b"authorization", bearer(ENV_KEY).encode())],
            "client": (CLIENT, 50000),
        }
    )

    first = auth.check(request)
    again = auth.check(request)  # a second dependency of the same route: no second token

    assert again is first
    assert refused(lambda: auth.authenticate(bearer(ENV_KEY), CLIENT)).retry_after_seconds == 60
