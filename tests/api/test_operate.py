"""The operator's routes (`/admin/keys`, `/admin/workers`, `/admin/queue`) for admin keys, the
403 every other key gets, `/admin/me`, and every bad input's status and code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reelgate.store.base import WorkerInfo
from tests.support.inprocess import InProcessServer, StartApp, running
from tests.support.server import API_KEY

ADMIN_KEY = "rg_test_admin_key_0123456789abcdef012345"
HEARTBEAT_SECONDS = 5.0

# Every operator route with a body it would accept from an admin key.
OPERATOR_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/admin/keys", None),
    ("POST", "/admin/keys", {"name": "ci"}),
    ("POST", "/admin/keys/key_0000000000000000/revoke", None),
    ("PUT", "/admin/keys/key_0000000000000000/limits", {"max_active_tasks": 3}),
    ("GET", "/admin/workers", None),
    ("GET", "/admin/queue", None),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """No workers (tasks stay queued); ADMIN_KEY is an admin key from the environment."""
    with running(
        tmp_path_factory.mktemp("operate"),
        workers=0,
        admin_api_keys=ADMIN_KEY,
        heartbeat_seconds=HEARTBEAT_SECONDS,
    ) as started:
        yield started


def _admin(app: InProcessServer) -> httpx.Client:
    return app.client(ADMIN_KEY)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


def _create(app: InProcessServer, **body: Any) -> dict[str, Any]:
    with _admin(app) as client:
        response = client.post("/admin/keys", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- who may call ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ROUTES)
def test_a_plain_key_gets_403_admin_required_on_every_operator_route(
    app: InProcessServer, method: str, path: str, body: Any
) -> None:
    with app.client(API_KEY) as client:
        response = client.request(method, path, json=body)
    message = _error(response, 403, "admin_required")
    assert "admin key" in message


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, body in OPERATOR_ROUTES if body is not None]
)
def test_a_plain_key_gets_403_even_for_a_body_that_is_not_json(
    app: InProcessServer, method: str, path: str
) -> None:
    # Bodies are parsed before dependencies run: the check must come first all the same.
    with app.client(API_KEY) as client:
        response = client.request(
            method, path, content=b"{", headers={"Content-Type": "application/json"}
        )
    _error(response, 403, "admin_required")


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ROUTES)
def test_no_key_or_a_wrong_key_is_401_on_every_operator_route(
    app: InProcessServer, method: str, path: str, body: Any
) -> None:
    for key in (None, "rg_not_a_key"):
        with app.client(key) as client:
            response = client.request(method, path, json=body)
        _error(response, 401, "invalid_token")


def test_me_says_whether_the_key_is_an_admin_and_its_limits(app: InProcessServer) -> None:
    with app.client(API_KEY) as client:
        plain = client.get("/admin/me").json()
    with _admin(app) as client:
        admin = client.get("/admin/me").json()
    assert plain["admin"] is False
    assert admin["admin"] is True
    assert plain["owner_id"].startswith("env_")
    assert admin["owner_id"].startswith("env_")
    assert admin["owner_id"] != plain["owner_id"]
    assert (plain["max_active_tasks"], plain["rate_per_minute"]) == (100, 600.0)
    with app.client(None) as client:
        _error(client.get("/admin/me"), 401, "invalid_token")


# -- keys ------------------------------------------------------------------------------------------
def test_an_admin_creates_a_key_that_works_and_is_listed_without_its_secret(
    app: InProcessServer,
) -> None:
    created = _create(app, name="team-a", max_active_tasks=7)
    secret = created["key"]
    assert secret.startswith("rg_")
    assert created["id"].startswith("key_")
    assert secret.startswith(created["prefix"])
    assert (created["name"], created["admin"], created["revoked_at"]) == ("team-a", False, None)
    assert (created["max_active_tasks"], created["rate_per_minute"]) == (7, None)

    with _admin(app) as client:
        listed = client.get("/admin/keys")
    assert listed.status_code == 200
    assert secret not in listed.text
    assert "hash" not in listed.text
    (record,) = [k for k in listed.json()["data"] if k["id"] == created["id"]]
    assert record == {k: v for k, v in created.items() if k != "key"}
    assert listed.json()["defaults"] == {"max_active_tasks": 100, "rate_per_minute": 600.0}

    with app.client(secret) as client:
        me = client.get("/admin/me").json()
        assert (me["owner_id"], me["admin"], me["max_active_tasks"]) == (created["id"], False, 7)
        _error(client.get("/admin/keys"), 403, "admin_required")


def test_environment_keys_are_not_listed(app: InProcessServer) -> None:
    with _admin(app) as client:
        listed = client.get("/admin/keys").json()["data"]
    assert all(k["id"].startswith("key_") for k in listed)
    assert all(not k["id"].startswith("env_") for k in listed)


def test_a_key_made_admin_may_call_the_operator_routes(app: InProcessServer) -> None:
    created = _create(app, name="second operator", admin=True)
    assert created["admin"] is True
    with app.client(created["key"]) as client:
        assert client.get("/admin/keys").status_code == 200
        assert client.get("/admin/me").json()["admin"] is True
        another = client.post("/admin/keys", json={})
    assert another.status_code == 201
    assert (another.json()["name"], another.json()["admin"]) == ("", False)


def test_a_revoked_key_is_refused_and_revoking_again_changes_nothing(app: InProcessServer) -> None:
    created = _create(app, name="leaked")
    with app.client(created["key"]) as client:
        assert client.get("/admin/me").status_code == 200
    with _admin(app) as client:
        revoked = client.post(f"/admin/keys/{created['id']}/revoke")
        again = client.post(f"/admin/keys/{created['id']}/revoke")
        listed = client.get("/admin/keys").json()["data"]
    assert revoked.status_code == again.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert again.json() == revoked.json()
    assert "key" not in revoked.json()
    assert [k["revoked_at"] for k in listed if k["id"] == created["id"]] == [
        revoked.json()["revoked_at"]
    ]
    with app.client(created["key"]) as client:
        _error(client.get("/admin/me"), 401, "invalid_token")


def test_limits_are_set_honoured_and_reset(app: InProcessServer) -> None:
    created = _create(app, name="batch")
    path = f"/admin/keys/{created['id']}/limits"
    with _admin(app) as client:
        limited = client.put(path, json={"max_active_tasks": 1, "rate_per_minute": 30})
    assert limited.status_code == 200
    assert (limited.json()["max_active_tasks"], limited.json()["rate_per_minute"]) == (1, 30.0)
    with app.client(created["key"]) as client:
        me = client.get("/admin/me").json()
        assert (me["max_active_tasks"], me["rate_per_minute"]) == (1, 30.0)
        assert client.post("/admin/tasks", json={"prompt": "one"}).status_code == 200
        over = client.post("/admin/tasks", json={"prompt": "two"})
    assert "limit 1" in _error(over, 429, "rate_limited")

    with _admin(app) as client:
        reset = client.put(path, json={})
    assert (reset.json()["max_active_tasks"], reset.json()["rate_per_minute"]) == (None, None)
    with app.client(created["key"]) as client:
        me = client.get("/admin/me").json()
        assert (me["max_active_tasks"], me["rate_per_minute"]) == (100, 600.0)
        assert client.post("/admin/tasks", json={"prompt": "two"}).status_code == 200


def test_a_keys_rate_limit_set_over_http_paces_its_next_requests(start_app: StartApp) -> None:
    app = start_app(workers=0, admin_api_keys=ADMIN_KEY, rate_burst=2)
    created = _create(app, name="slow client")
    with _admin(app) as client:
        response = client.put(f"/admin/keys/{created['id']}/limits", json={"rate_per_minute": 1})
    assert response.status_code == 200
    with app.client(created["key"]) as client:
        assert client.get("/admin/me").status_code == 200
        assert client.get("/admin/me").status_code == 200
        refused = client.get("/admin/me")
    assert "(1 per minute)" in _error(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "60"


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "x", "extra": 1}, "extra"),
        ({"admin": "yes"}, "admin"),
        ({"admin": 1}, "admin"),
        ({"name": 5}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "bidi \u202e"}, "name"),
        ({"max_active_tasks": 0}, "max_active_tasks"),
        ({"max_active_tasks": 1.5}, "max_active_tasks"),
        ({"max_active_tasks": "3"}, "max_active_tasks"),
        ({"max_active_tasks": 1_000_001}, "max_active_tasks"),
        ({"rate_per_minute": 0}, "rate_per_minute"),
        ({"rate_per_minute": -1.5}, "rate_per_minute"),
        ({"rate_per_minute": "60"}, "rate_per_minute"),
        ({"rate_per_minute": 1e7}, "rate_per_minute"),
    ],
)
def test_a_bad_key_body_is_400_naming_the_field(
    app: InProcessServer, body: dict[str, Any], param: str
) -> None:
    with _admin(app) as client:
        response = client.post("/admin/keys", json=body)
    assert _error(response, 400, "invalid_request").startswith(f"{param}:")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_active_tasks": 0}, "max_active_tasks"),
        ({"rate_per_minute": True}, "rate_per_minute"),
        ({"admin": True}, "admin"),  # limits only: admin is chosen when the key is made
        ({"name": "renamed"}, "name"),
    ],
)
def test_a_bad_limits_body_is_400_naming_the_field(
    app: InProcessServer, body: dict[str, Any], param: str
) -> None:
    created = _create(app, name="limits target")
    with _admin(app) as client:
        response = client.put(f"/admin/keys/{created['id']}/limits", json=body)
    assert _error(response, 400, "invalid_request").startswith(f"{param}:")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/admin/keys"), ("PUT", "/admin/keys/key_0000000000000000/limits")],
)
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "not valid JSON"),
        (b'{"rate_per_minute": NaN}', "not valid JSON"),
        (b'{"rate_per_minute": 1e400}', "not valid JSON"),
        (b'{"name": "a", "name": "b"}', "not valid JSON"),
        (b"[]", "body"),
        (b'"x"', "body"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    app: InProcessServer, method: str, path: str, content: bytes, reason: str
) -> None:
    with _admin(app) as client:
        response = client.request(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
    assert reason in _error(response, 400, "invalid_request")


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_missing_body_is_400(app: InProcessServer, method: str) -> None:
    path = "/admin/keys" if method == "POST" else "/admin/keys/key_0000000000000000/limits"
    with _admin(app) as client:
        response = client.request(method, path)
    _error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/keys/key_0000000000000000/revoke", None),
        ("PUT", "/admin/keys/key_0000000000000000/limits", {"max_active_tasks": 2}),
        ("POST", "/admin/keys/env_0123456789abcdef/revoke", None),
    ],
)
def test_an_unknown_key_is_404_key_not_found(
    app: InProcessServer, method: str, path: str, body: Any
) -> None:
    with _admin(app) as client:
        response = client.request(method, path, json=body)
    assert "does not exist" in _error(response, 404, "key_not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/admin/keys"), ("GET", "/admin/keys/key_0000000000000000/revoke")],
)
def test_a_wrong_method_is_405(app: InProcessServer, method: str, path: str) -> None:
    with _admin(app) as client:
        _error(client.request(method, path), 405, "method_not_allowed")


# -- workers and the queue -------------------------------------------------------------------------
def _beat(app: InProcessServer, worker_id: str, models: tuple[str, ...], task: str | None) -> None:
    assert app.runtime is not None
    now = time.time()
    info = WorkerInfo(worker_id, "gpu-7", 4242, models, "cuda:0", now, now, task)
    app.runtime.store.workers.beat([info])


def test_workers_lists_live_workers_with_their_models_and_current_task(
    start_app: StartApp,
) -> None:
    app = start_app(workers=0, admin_api_keys=ADMIN_KEY, heartbeat_seconds=HEARTBEAT_SECONDS)
    with _admin(app) as client:
        empty = client.get("/admin/workers").json()
        assert empty == {"data": [], "live_window_seconds": 3 * HEARTBEAT_SECONDS}
        task_id = client.post("/admin/tasks", json={"prompt": "a cat"}).json()["id"]
        _beat(app, "gpu-7:4242:0", ("gen4", "gen3"), task_id)
        _beat(app, "gpu-7:4242:1", ("gen4",), None)
        workers = client.get("/admin/workers").json()["data"]
    assert [(w["id"], w["current_task_id"]) for w in workers] == [
        ("gpu-7:4242:0", task_id),
        ("gpu-7:4242:1", None),
    ]
    first = workers[0]
    assert (first["hostname"], first["pid"], first["device"]) == ("gpu-7", 4242, "cuda:0")
    assert first["models"] == ["gen4", "gen3"]
    assert first["heartbeat_at"] >= first["started_at"]


def test_queue_counts_queued_and_running_tasks_per_model_and_names_unserved_models(
    start_app: StartApp,
) -> None:
    app = start_app(workers=0, admin_api_keys=ADMIN_KEY)
    assert app.runtime is not None
    with app.client(API_KEY) as client:
        for model in ("gen4", "gen4", "gen4", "gen3"):
            response = client.post("/admin/tasks", json={"prompt": "a cat", "model": model})
            assert response.status_code == 200
    claim = app.runtime.store.tasks.claim("gpu-7:4242:0", 30.0, ["gen4"])
    assert claim is not None
    _beat(app, "gpu-7:4242:0", ("gen4",), claim.task.id)

    with _admin(app) as client:
        queue = client.get("/admin/queue").json()

    rows = {row["model"]: row for row in queue["models"]}
    assert [row["model"] for row in queue["models"]] == list(app.runtime.registry.names)
    gen4, gen3, sora = rows["gen4"], rows["gen3"], rows["sora-2"]
    assert (gen4["queued"], gen4["running"], gen4["live_workers"]) == (2, 1, 1)
    assert (gen3["queued"], gen3["running"], gen3["live_workers"]) == (1, 0, 0)
    assert (sora["queued"], sora["running"], sora["oldest_queued_at"]) == (0, 0, None)
    assert gen4["oldest_queued_at"] <= gen3["oldest_queued_at"]
    assert "gen4" not in queue["models_without_workers"]
    assert {"gen3", "sora-2"} <= set(queue["models_without_workers"])


# -- the document ----------------------------------------------------------------------------------
def test_the_operator_routes_are_documented_with_their_errors(app: InProcessServer) -> None:
    with app.client(None) as client:
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    for method, path, body in OPERATOR_ROUTES:
        templated = path.replace("key_0000000000000000", "{key_id}")
        operation = paths[templated][method.lower()]
        assert {"401", "403", "429"} <= set(operation["responses"]), templated
        examples = operation["responses"]["403"]["content"]["application/json"]["examples"]
        assert list(examples) == ["admin_required"]
        if body is not None:
            assert "400" in operation["responses"]
        if "{key_id}" in templated:
            assert "404" in operation["responses"]
    assert "/admin/me" in paths
    created = paths["/admin/keys"]["post"]["responses"]["201"]
    assert "key" in document["components"]["schemas"]["KeyCreatedOut"]["properties"]
    assert "links" in created
    assert "key_hash" not in str(document["components"]["schemas"]["KeyOut"])
