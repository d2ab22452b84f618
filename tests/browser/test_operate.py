"""The Operate page in real Chromium. An admin key sees a live worker (a real `reelgate worker`
process serving gen4 only), the queue depth per model and the models no worker serves, creates
a key (its secret shown once, copied by a button), sets its limits and revokes it; a plain key
sees neither the Operate link nor any admin control. No console errors, no serious
accessibility violations, screenshots at phone and desktop widths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, ConsoleLog, axe_violations, screenshots
from tests.support.server import API_KEY, ServerProcess, WorkerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
ADMIN_KEY = "rg_test_admin_key_0123456789abcdef012345"
WORKER_START_SECONDS = 120.0  # a worker process's imports and first beat on a 2-core machine


@pytest.fixture(scope="module")
def operate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`reelgate serve` without in-process workers, beside one `reelgate worker --models gen4`,
    so gen4 is served and every other model's tasks wait in the queue."""
    data_dir = tmp_path_factory.mktemp("operate")
    server = ServerProcess(
        data_dir, env={"REELGATE_WORKERS": "0", "REELGATE_ADMIN_API_KEYS": ADMIN_KEY}
    ).start()
    worker = WorkerProcess(data_dir, server.env, "--models", "gen4", "--device", "cpu:7").start()
    try:
        wait_until_gen4_is_served(server, worker)
        with server.client(API_KEY) as client:
            for prompt in ("a lighthouse", "a harbour at dusk"):
                queued = client.post("/admin/tasks", json={"prompt": prompt, "model": "gen3"})
                assert queued.status_code == 200, queued.text
        yield server
    finally:
        worker.stop()
        server.stop()


def wait_until_gen4_is_served(server: ServerProcess, worker: WorkerProcess) -> None:
    with server.client(None) as client:

        def served() -> bool:
            assert worker.proc is not None
            assert worker.proc.poll() is None, worker.logs()
            return "gen4" not in client.get("/readyz").json()["models_without_workers"]

        wait_until(
            served,
            WORKER_START_SECONDS,
            interval=0.2,
            what=lambda: f"the worker to beat; its log:\n{worker.logs()}",
        )


def sign_in(page: Page, server: ServerProcess, key: str) -> None:
    page.goto(server.base_url + "/console")
    page.locator("#view-signin").get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()


def test_an_admin_sees_workers_and_the_queue_and_creates_and_revokes_a_key(
    page: Page, operate_server: ServerProcess
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log = ConsoleLog(page)
    sign_in(page, operate_server, ADMIN_KEY)
    page.get_by_role("link", name="Operate").click()
    expect(page.get_by_role("heading", name="Operate")).to_be_visible()

    queue = page.get_by_role("table", name="Queue depth per model")
    gen3 = queue.get_by_role("row").filter(has=page.get_by_role("cell", name="gen3", exact=True))
    expect(gen3.get_by_role("cell").nth(1)).to_have_text("2")  # queued
    expect(gen3.get_by_role("cell").nth(4)).to_have_text("0")  # live workers
    unserved = page.get_by_role("list", name="Models without a live worker")
    expect(unserved.get_by_role("listitem").filter(has_text=re.compile("^gen3$"))).to_have_count(1)
    workers = page.get_by_role("table", name="Live workers")
    expect(workers).to_contain_text("cpu:7")
    expect(workers).to_contain_text("gen4")
    expect(workers).to_contain_text("idle")
    gen4 = queue.get_by_role("row").filter(has=page.get_by_role("cell", name="gen4", exact=True))
    expect(gen4.get_by_role("cell").nth(4)).to_have_text("1")
    expect(unserved.get_by_role("listitem").filter(has_text=re.compile("^gen4$"))).to_have_count(0)

    form = page.locator("#key-form")
    form.get_by_label("Name").fill("team <b>a</b>")  # shown as text, never as markup
    form.get_by_label("Max active tasks").fill("3")
    page.get_by_role("button", name="Create key").click()
    secret_box = page.get_by_role("region", name="New key")
    expect(secret_box).to_be_visible()
    secret = page.locator("#new-key-value").inner_text()
    assert secret.startswith("rg_")
    expect(page.locator("#new-key-value")).to_be_focused()
    page.get_by_role("button", name="Copy key").click()
    expect(page.locator("#new-key-copied")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    keys = page.get_by_role("table", name="API keys")
    row = keys.get_by_role("row").filter(has_text="team <b>a</b>")
    cells = row.get_by_role("cell")  # name, state, actions, role, max active, per minute, …, id
    expect(cells.nth(1)).to_have_text("active")
    expect(cells.nth(3)).to_have_text("key")
    expect(cells.nth(4)).to_have_text("3")
    assert page.locator("#keys-table b").count() == 0
    assert axe_violations(page) == []
    screenshots(page, "operate-admin")
    page.get_by_role("button", name="Done").click()
    expect(secret_box).to_be_hidden()
    assert secret not in page.content()

    with httpx.Client(base_url=operate_server.base_url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/admin/me", headers=headers).json()["max_active_tasks"] == 3

        limits = page.locator("#limits-form")
        key_id = cells.nth(7).inner_text()
        limits.get_by_label("Key").select_option(value=key_id)
        expect(limits.get_by_label("Max active tasks")).to_have_value("3")
        limits.get_by_label("Max active tasks").fill("")
        limits.get_by_label("Requests per minute").fill("30")
        page.get_by_role("button", name="Save limits").click()
        expect(page.locator("#limits-saved")).to_contain_text("Saved the limits")
        expect(cells.nth(5)).to_have_text("30")
        me = client.get("/admin/me", headers=headers).json()
        assert (me["max_active_tasks"], me["rate_per_minute"]) == (100, 30.0)

        # Keyboard only: the revoke asks again before the key stops working.
        row.get_by_role("button", name="Revoke team <b>a</b>").focus()
        page.keyboard.press("Enter")
        expect(row.get_by_role("button", name="Yes, revoke team <b>a</b>")).to_be_focused()
        page.keyboard.press("Enter")
        expect(cells.nth(1)).to_contain_text("revoked")
        expect(row.get_by_role("button")).to_have_count(0)
        assert client.get("/admin/me", headers=headers).status_code == 401

    expect(page.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)
    page.set_viewport_size(PHONE)
    expect(page.get_by_role("button", name="Create key")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert log.unexpected() == []


def test_a_plain_key_sees_no_admin_controls(page: Page, operate_server: ServerProcess) -> None:
    log = ConsoleLog(page)
    sign_in(page, operate_server, API_KEY)
    expect(page.get_by_role("link", name="Operate")).to_have_count(0)
    page.goto(f"{operate_server.base_url}/console#/operate")
    expect(page.get_by_role("heading", name="Operate")).to_be_visible()
    models = page.get_by_role("table", name="Models", exact=True)
    gen4 = models.get_by_role("row").filter(has=page.get_by_role("cell", name="gen4", exact=True))
    gen3 = models.get_by_role("row").filter(has=page.get_by_role("cell", name="gen3", exact=True))
    expect(gen4.get_by_role("cell").nth(1)).to_have_text("served")
    expect(gen3.get_by_role("cell").nth(1)).to_have_text("none live")
    expect(page.get_by_role("button", name="Create key")).to_be_hidden()
    expect(page.get_by_role("table", name="API keys")).to_have_count(0)
    expect(page.get_by_role("table", name="Live workers")).to_have_count(0)
    expect(page.get_by_role("table", name="Queue depth per model")).to_have_count(0)
    assert axe_violations(page) == []
    screenshots(page, "operate-plain")
    assert log.unexpected() == []
