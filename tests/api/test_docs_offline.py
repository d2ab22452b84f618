"""`/docs` works without internet: the page names only files this server serves itself; FastAPI's
`/redoc`, which would load ReDoc from a CDN, is off."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from tests.support.inprocess import BASE_URL, InProcessServer


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(str(found[name]))
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_docs_page_loads_swagger_ui_from_this_server(idle_app: InProcessServer) -> None:
    with idle_app.client(None) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = _Assets()
        assets.feed(page.text)
        assert assets.inline_scripts == 0
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        urls = [urljoin(f"{BASE_URL}/docs", url) for url in assets.urls]
        assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
        for url in urls:
            assert urlsplit(url).netloc == urlsplit(BASE_URL).netloc, url
            served = client.get(url)
            assert served.status_code == 200, url
            assert served.content, url
        bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
        assert "javascript" in bundle.headers["content-type"]
        assert b"SwaggerUIBundle" in bundle.content
        init = client.get("/static/swagger-ui/docs-init.js").text
        assert '"openapi.json"' in init
        assert client.get("/static/swagger-ui/LICENSE").status_code == 200


def test_redoc_is_off_rather_than_loaded_from_a_cdn(idle_app: InProcessServer) -> None:
    with idle_app.client(None) as client:
        response = client.get("/redoc")
        document = client.get("/openapi.json").json()
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/redoc" not in document["paths"]
