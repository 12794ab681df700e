"""The web pages as HTML: cards, filters and pages of the marketplace, the run form built
from the processed schema, escaping, security headers, and the demo sign-in's mounting."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from aiohttp.test_utils import TestClient

from entrypoints.container import build_container, resolve
from entrypoints.http.app import create_app
from entrypoints.seed.run import DEMO_CONSUMER
from entrypoints.web import templates

from .conftest import ClientFactory, make_settings
from .support import Api, World, base_model_body

XSS_TITLE = "<script>alert('title')</script> Evil & Co"
XSS_DESCRIPTION = '<img src=x onerror="alert(1)"> described'


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]

    def one(self, tag: str, **wanted: str) -> dict[str, str | None]:
        found = self.find(tag, **wanted)
        assert len(found) == 1, (tag, wanted, found)
        return found[0]


async def publish(api: Api, base_id: str, title: str, **extra: Any) -> str:
    """A published Tars model of developer X; its slug."""
    body = {"baseModelId": base_id, "title": title, **extra}
    created = await api.ok("POST", "/api/developer/tars-models", "developer_x", body, 201)
    path = f"/api/developer/tars-models/{created['id']}"
    await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    return str(created["slug"])


async def test_marketplace_shows_cards_and_filters_by_category(api: Api, world: World) -> None:
    endpoint = world.endpoint_id
    audio = base_model_body(endpoint, slug="tts", category="AUDIO", outputType="AUDIO")
    audio_base = await api.ok("POST", "/api/admin/base-models", "admin", audio, 201)
    await publish(api, audio_base["id"], "Narrator", description="Reads aloud.")
    page = await api.call("GET", "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    tags = Tags(page.text)
    assert {a["data-slug"] for a in tags.find("li") if a.get("data-slug")} == {
        world.slug,
        "narrator",
    }
    assert "Reads aloud." in page.text and "Output: Audio" in page.text
    assert tags.one("a", href="/?category=AUDIO")
    only_audio = Tags((await api.call("GET", "/?category=AUDIO")).text)
    assert [a["data-slug"] for a in only_audio.find("li") if a.get("data-slug")] == ["narrator"]
    assert only_audio.one("a", href="/?category=AUDIO")["aria-current"] == "true"


async def test_marketplace_pages_follow_the_cursor(api: Api, world: World) -> None:
    for i in range(13):
        await publish(api, world.base_model_id, f"Model {i:02d}")
    first = Tags((await api.call("GET", "/")).text)
    shown = [a["data-slug"] for a in first.find("li") if a.get("data-slug")]
    assert len(shown) == 12
    next_link = first.one("a", rel="next")["href"]
    assert next_link is not None and next_link.startswith("/?cursor=")
    second = Tags((await api.call("GET", next_link)).text)
    rest = [a["data-slug"] for a in second.find("li") if a.get("data-slug")]
    assert len(rest) == 2 and not set(rest) & set(shown)
    assert second.find("a", rel="next") == [] and second.find("a", href="/")


async def test_bad_query_and_unknown_model_answer_html_pages(api: Api, world: World) -> None:
    for path, status in (("/?category=NOPE", 400), ("/?cursor=abc", 400), ("/models/nope", 404)):
        reply = await api.call("GET", path)
        assert reply.status == status, path
        assert reply.headers["Content-Type"].startswith("text/html"), path
        assert "Back to the marketplace" in reply.text


async def test_developer_text_is_escaped_everywhere(api: Api, world: World) -> None:
    slug = await publish(api, world.base_model_id, XSS_TITLE, description=XSS_DESCRIPTION)
    for path in ("/", f"/models/{slug}"):
        page = await api.call("GET", path)
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; Evil &amp; Co" in page.text
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; described" in page.text
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Content-Type-Options"] == "nosniff"


async def test_model_page_form_follows_the_processed_schema(api: Api, world: World) -> None:
    page = await api.call("GET", f"/models/{world.slug}")
    tags = Tags(page.text)
    # IMAGE_SCHEMA with CONFIG: width defaults to 512, steps is locked at 30, seed hidden.
    prompt = tags.one("textarea", id="in-prompt")
    assert "required" in prompt and prompt["aria-required"] == "true"
    width = tags.one("input", id="in-width")
    # 1,792 steps is too many for a slider: a number field with its limits.
    assert (width["type"], width["min"], width["max"], width["value"]) == (
        "number",
        "256",
        "2048",
        "512",
    )
    steps = tags.one("input", id="in-steps")
    assert "disabled" in steps and steps["value"] == "30"
    assert tags.find("input", id="in-seed") == [] and "PFX-SECRET" not in page.text
    for control in ("in-prompt", "in-width", "in-steps"):
        assert tags.one("label", **{"for": control})
    assert "novalidate" in tags.one("form", id="run-form")
    assert tags.one("p", id="run-status")["aria-live"] == "polite"


async def test_history_and_sign_in_pages_are_served(api: Api) -> None:
    for path in ("/executions", "/sign-in", "/web/static/tarsify.js", "/web/static/app.css"):
        reply = await api.call("GET", path)
        assert reply.status == 200, path
    sign_in = Tags((await api.call("GET", "/sign-in")).text)
    assert sign_in.one("input", id="api-key")["type"] == "password"
    assert sign_in.find("button", id="demo-sign-in") == []  # not a demo server


async def test_demo_sign_in_exists_only_in_demo_mode(api: Api) -> None:
    assert (await api.call("POST", "/web/demo-sign-in")).status == 404


async def test_demo_sign_in_hands_out_a_working_key(aiohttp_client: ClientFactory) -> None:
    container = build_container(make_settings(demo_sign_in=True))
    client: TestClient = await aiohttp_client(create_app(container))
    refused = await client.post("/web/demo-sign-in")
    # The demo consumer is not registered on this database (no seed ran).
    assert (await refused.json())["error"] == {
        "code": "ERR_1004",
        "message": "The demo consumer is not registered",
    }
    accounts = await resolve(container.account_service)
    await accounts.register_consumer(DEMO_CONSUMER, DEMO_CONSUMER.name)
    created = await client.post("/web/demo-sign-in")
    assert created.status == 201
    key = (await created.json())["data"]["key"]
    assert key.startswith("tsk_")
    me = await client.get("/api/consumer/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert (await me.json())["data"]["uid"] == DEMO_CONSUMER.uid
    page = await client.get("/sign-in")
    assert 'id="demo-sign-in"' in await page.text()


def test_a_price_is_shown_when_the_marketplace_item_has_one() -> None:
    item = {
        "slug": "m",
        "title": "M",
        "description": None,
        "category": "IMAGE",
        "outputType": "IMAGE",
        "estimatedSeconds": 5,
        "developerName": None,
    }
    context = {"page": "marketplace", "demo": False, "simulated": False, "category": None}
    context |= {"categories": [], "category_url": str, "next_url": None, "first_url": None}
    page = templates.environment().get_template("marketplace.html")
    without = page.render(context | {"items": [item]})
    priced = {**item, "pricePerRun": 25}
    with_price = page.render(context | {"items": [priced]})
    assert "credits / run" not in without
    assert "25 credits / run" in with_price
