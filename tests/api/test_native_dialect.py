"""reelgate's own routes (`/admin/tasks`) refuse what their strict format does not hold."""

from __future__ import annotations

import pytest

from tests.support.inprocess import InProcessServer


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "extra": 1}, "extra"),
        ({"prompt": "x", "motion": {"q": 1}}, "motion.q"),
        ({"prompt": "x", "motion": {"x": 11.0}}, "motion.x"),
        ({"prompt": "x", "seconds": 0}, "seconds"),
        ({"prompt": ""}, "prompt"),
        ({}, "prompt"),
    ],
)
def test_native_create_is_strict(
    idle_app: InProcessServer, body: dict[str, object], param: str
) -> None:
    with idle_app.client() as client:
        response = client.post("/admin/tasks", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{param}:")
