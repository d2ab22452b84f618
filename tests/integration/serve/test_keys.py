"""API keys: the key `serve` makes on first start (an admin key), `reelgate keys
create|list|revoke`, `create --admin`, and the quota a key is made with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.inprocess import StartApp
from tests.support.server import API_KEY, ServerProcess, seed_body


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"REELGATE_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "reelgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _feed_status(server: ServerProcess, key: str) -> int:
    with server.client(key) as client:
        return client.post("/runway/feed", json={"task_id": "x"}).status_code


def test_first_serve_makes_a_key_prints_it_once_and_stores_only_its_hash(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path, env={"REELGATE_API_KEYS": "", "REELGATE_WORKERS": "0"})
    server.start()
    try:
        printed = re.findall(r"^\s+(rg_\S+)$", server.logs(), re.MULTILINE)
        assert len(printed) == 1
        key = printed[0]
        assert _feed_status(server, key) == 400  # authenticated: the task is unknown
        assert _feed_status(server, key + "x") == 401
        with server.client(key) as client:  # the operator's key: it may manage keys
            assert client.get("/admin/keys").status_code == 200
    finally:
        server.stop()
    database = (tmp_path / "reelgate.db").read_bytes()
    assert key.encode() not in database
    server.start()  # a second start makes no new key
    try:
        assert re.findall(r"^\s+(rg_\S+)$", server.logs(), re.MULTILINE) == [key]
        assert _feed_status(server, key) == 400
    finally:
        server.stop()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = _cli(tmp_path, "keys", "create", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key_id, key = created.stdout.split()
    assert key_id.startswith("key_")
    assert key.startswith("rg_")
    assert "shown this once" in created.stderr

    listed = _cli(tmp_path, "keys", "list")
    assert key_id in listed.stdout
    assert key not in listed.stdout
    assert "active" in listed.stdout

    server = ServerProcess(tmp_path, env={"REELGATE_API_KEYS": "", "REELGATE_WORKERS": "0"})
    server.start()
    try:
        assert "rg_" not in server.logs()  # a key exists, so none is made
        assert _feed_status(server, key) == 400
        revoked = _cli(tmp_path, "keys", "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        with server.client(key) as client:
            response = client.post("/runway/feed", json={"task_id": "x"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
    finally:
        server.stop()
    assert "revoked" in _cli(tmp_path, "keys", "list").stdout
    assert _cli(tmp_path, "keys", "revoke", key_id).returncode == 1


def test_keys_create_admin_makes_a_key_that_may_manage_keys(
    tmp_path: Path, start_app: StartApp
) -> None:
    made = _cli(tmp_path, "keys", "create", "--name", "ops", "--admin")
    assert made.returncode == 0, made.stderr
    admin_id, admin_key = made.stdout.split()
    plain = _cli(tmp_path, "keys", "create", "--name", "ci")
    plain_id, plain_key = plain.stdout.split()

    listed = _cli(tmp_path, "keys", "list").stdout.splitlines()
    assert listed[0].split("\t") == [
        "ID", "PREFIX", "STATE", "ROLE", "CREATED", "LIMITS", "NAME"
    ]  # fmt: skip
    rows = {line.split("\t")[0]: line.split("\t") for line in listed[1:]}
    assert rows[admin_id][2:4] == ["active", "admin"]
    assert rows[plain_id][2:4] == ["active", "key"]
    assert rows[admin_id][-1] == "ops"

    app = start_app(workers=0, data_dir=tmp_path)
    with app.client(admin_key) as client:
        keys = client.get("/admin/keys")
    assert keys.status_code == 200
    assert {k["id"]: k["admin"] for k in keys.json()["data"]} == {admin_id: True, plain_id: False}
    with app.client(plain_key) as client:
        refused = client.get("/admin/keys")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin_required"


def test_webhook_secret_is_stable_and_standard(tmp_path: Path) -> None:
    first = _cli(tmp_path, "webhook-secret").stdout.strip()
    assert first.startswith("whsec_")
    assert _cli(tmp_path, "webhook-secret").stdout.strip() == first


def test_bad_settings_fail_at_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {
        "REELGATE_DATA_DIR": str(tmp_path),
        "REELGATE_LEASE_SECONDS": "5",
        "REELGATE_HEARTBEAT_SECONDS": "5",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "reelgate", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "REELGATE_LEASE_SECONDS must be at least 3 x REELGATE_HEARTBEAT_SECONDS" in result.stderr


def test_per_key_quota_override(tmp_path: Path, start_app: StartApp) -> None:
    made = _cli(tmp_path, "keys", "create", "--max-active", "1")
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[1]
    app = start_app(workers=0, data_dir=tmp_path)
    body = seed_body("https://example.com/hook")
    with app.client(key) as client:
        assert client.post("/runway/pro/generate", json=body).status_code == 200
        response = client.post("/runway/pro/generate", json=body)
    assert response.status_code == 429
    assert "limit 1" in response.json()["message"]
    with app.client(API_KEY) as client:  # the default cap
        assert client.post("/runway/pro/generate", json=body).status_code == 200
