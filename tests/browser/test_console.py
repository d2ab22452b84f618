"""The console in real Chromium: sign in, create the seed's request, watch it to 100 %, play it,
find it in the library, cancel a running task, see a field error, stay within one key's tasks;
no console errors, no serious accessibility violations, screenshots at phone and desktop widths.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ConsoleLog, axe_violations, screenshots
from tests.support.receiver import Receiver
from tests.support.server import API_KEY, OTHER_KEY, ServerProcess

pytestmark = pytest.mark.slow
RENDER_TIMEOUT_MS = 180_000  # the seed's 10 s clip on a 2-core machine


def view(page: Page) -> Locator:
    """The view on screen (the others are hidden, and share some labels)."""
    return page.locator("section.view:not([hidden])")


def sign_in(page: Page, server: ServerProcess, key: str) -> None:
    page.goto(server.base_url + "/")
    expect(page).to_have_url(re.compile(r"/console"))
    view(page).get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()


def set_slider(page: Page, axis: str, value: float) -> None:
    slider = page.locator(f"#f-motion-{axis}")
    slider.focus()
    steps = round(abs(value) / 0.1)
    for _ in range(steps):  # the keyboard, as a person without a mouse would
        slider.press("ArrowRight" if value > 0 else "ArrowLeft")
    expect(page.locator(f"#f-motion-{axis}-value")).to_have_text(f"{value:.1f}")


def test_seed_request_from_the_form_renders_plays_and_shows_in_the_library(
    page: Page, console_server: ServerProcess, receiver: Receiver
) -> None:
    log = ConsoleLog(page)
    sign_in(page, console_server, API_KEY)
    assert axe_violations(page) == []
    view(page).get_by_label("Prompt").fill("a cat")
    view(page).get_by_label("Model").select_option("gen4")
    view(page).get_by_label("16:9").check()
    view(page).get_by_label("Seconds").fill("10")
    view(page).get_by_label("Style").fill("cinematic")
    set_slider(page, "y", 0.4)
    set_slider(page, "r", -6)
    view(page).get_by_label("Callback URL").fill(receiver.url_for("/hook"))
    screenshots(page, "create")
    page.get_by_role("button", name="Generate").click()

    expect(page).to_have_url(re.compile(r"#/task/[0-9a-f-]{36}$"))
    task_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#task-status")).to_have_text(re.compile("queued|running|succeeded"))
    expect(page.locator("#task-percent")).to_have_text("100 %", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#task-status")).to_have_text("succeeded")
    assert page.locator("#task-progress").get_attribute("value") == "100"
    request = page.locator("#task-request").inner_text()
    assert '"ratio": "16:9"' in request
    assert '"r": -6' in request

    video = page.locator("#player")
    expect(video).to_be_visible()
    page.wait_for_function("() => document.querySelector('#player').readyState >= 2")
    page.evaluate("document.querySelector('#player').muted = true")
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_function("() => document.querySelector('#player').currentTime > 0.5")
    expect(page.locator("#task-deliveries")).to_contain_text("delivered", timeout=30_000)
    assert axe_violations(page) == []
    screenshots(page, "task")

    page.get_by_role("link", name="Library").click()
    card = page.locator(f'a[href="#/task/{task_id}"]')
    expect(card).to_be_visible()
    poster = card.locator("img.thumb")
    expect(poster).to_be_visible()
    page.wait_for_function(
        "(id) => document.querySelector(`a[href='#/task/${id}'] img`).naturalWidth > 0", arg=task_id
    )
    assert axe_violations(page) == []
    screenshots(page, "library")
    assert log.unexpected() == []


def test_a_running_task_is_cancelled_from_its_page(
    page: Page, console_server: ServerProcess
) -> None:
    log = ConsoleLog(page)
    sign_in(page, console_server, API_KEY)
    view(page).get_by_label("Prompt").fill("a long slow pan over a city")
    view(page).get_by_label("Seconds").fill("20")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#task-status")).to_have_text("running", timeout=RENDER_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#task-status")).to_have_text("cancelled", timeout=60_000)
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    assert log.unexpected() == []


def test_a_bad_input_shows_its_error_next_to_its_field(
    page: Page, console_server: ServerProcess
) -> None:
    log = ConsoleLog(page)
    sign_in(page, console_server, API_KEY)
    view(page).get_by_label("Prompt").fill("a cat")
    view(page).get_by_label("Callback URL").fill("http://10.1.2.3/hook")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#err-callback_url")
    expect(error).to_contain_text("callback_url")
    expect(page.locator("#err-prompt")).to_be_empty()
    view(page).get_by_label("Callback URL").fill("")
    view(page).get_by_label("Prompt").fill("   ")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#err-prompt")).to_contain_text("prompt")
    assert axe_violations(page) == []
    screenshots(page, "create-errors")
    assert log.unexpected(400) == []


def test_a_second_key_sees_none_of_the_first_keys_tasks(
    page: Page, console_server: ServerProcess
) -> None:
    log = ConsoleLog(page)
    with console_server.client(API_KEY) as client:
        mine = client.post("/admin/tasks", json={"prompt": "first key's cat", "seconds": 1})
        task_id = mine.json()["id"]
    sign_in(page, console_server, OTHER_KEY)
    page.get_by_role("link", name="Library").click()
    expect(page.locator("#library-title")).to_be_visible()
    expect(page.locator(f'a[href="#/task/{task_id}"]')).to_have_count(0)
    expect(page.locator("#grid")).not_to_contain_text("first key's cat")
    expect(page.get_by_text("No videos yet.")).to_be_visible()
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    page.goto(f"{console_server.base_url}/console#/task/{task_id}")
    expect(page.locator("#task-title")).to_have_text("Video not found")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    assert log.unexpected(404) == []
