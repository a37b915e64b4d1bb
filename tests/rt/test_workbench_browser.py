"""The Workbench in headless Chromium (Debian's ``chromium`` package) driven by Playwright, against
a real server on the reference app: graph, endpoint tester, live trace, state, dead letters.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package (the
``dev`` extra); never ``playwright install``, which downloads a browser. Without them the tests
skip, unless ``MOTIA_REQUIRE_BROWSER=1`` (CI) makes that a failure. ``MOTIA_UPDATE_SCREENSHOTS=1``
also writes the screenshot to ``docs/images/workbench.png``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from motia_rt.server import create_app
from tests.app.conftest import STEPS
from tests.live_server import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("MOTIA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "workbench.png"
ORDER = {"email": "ada@example.com", "items": [{"sku": "sku-book", "quantity": 2}]}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = _missing()
    if missing:
        if os.environ.get("MOTIA_REQUIRE_BROWSER"):
            pytest.fail(f"MOTIA_REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "the page raised JavaScript errors"


def picture_stats(png: bytes) -> tuple[tuple[int, int], int, float]:
    """(size, distinct colours, mean per-channel standard deviation) of a PNG."""
    import io

    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24) or []
    return image.size, len(colours), sum(ImageStat.Stat(image).stddev) / 3


def test_the_workbench_shows_the_flow_and_follows_an_order_live(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with LiveServer(create_app(STEPS, cron=False)) as server:
        page.goto(server.url + "/__motia/workbench")
        # The page says when it is ready: graph, history and routes shown, the live stream open.
        page.wait_for_selector("html[data-ready=true]", state="attached")
        assert page.locator("#route option").count() > 1
        expect(page.locator("#conn")).to_have_text("live")

        # The graph: every step, by type, with virtual edges dashed.
        graph = page.locator("#graph")
        expect(graph.locator("text.name", has_text="ProcessPayment")).to_be_visible()
        expect(graph.locator("g.node")).to_have_count(13)
        expect(graph.locator("g.node.noop[data-step=ManualReview]")).to_have_count(1)
        expect(graph.locator("g.node.api[data-step=CreateOrder]")).to_have_count(1)
        expect(graph.locator("g.node.cron[data-step=ApiHealthCheck]")).to_have_count(1)
        expect(graph.locator("path.edge.virtual[data-topic='order.flagged']")).to_have_count(1)
        dash = graph.locator("path.edge.virtual").first.evaluate(
            "e => getComputedStyle(e).strokeDasharray"
        )
        assert dash not in ("", "none")
        expect(page.locator("#conn")).to_have_text("live")
        expect(page.locator("#trace-list li")).to_have_count(0)

        # The endpoint tester posts an order; its trace arrives over the live stream.
        expect(page.locator("#route option").first).to_have_text("POST /orders \u2014 CreateOrder")
        page.locator("#body").fill(json.dumps(ORDER, indent=2))
        page.locator("#send").click()
        expect(page.locator("#response-status")).to_have_text("202 Accepted")
        accepted = json.loads(page.locator("#response-body").inner_text())
        trace = page.locator(f"#trace-list li[data-trace='{accepted['traceId']}']")
        expect(trace).to_be_visible()
        expect(trace.locator(".trace-title")).to_have_text("CreateOrder")
        timeline = page.locator("#timeline-body")
        expect(timeline.locator(".tl-row.emit[data-topic='notification.sent']")).to_be_visible()
        expect(
            timeline.locator(".tl-row.run[data-step=ProcessPayment][data-outcome=ok]")
        ).to_be_visible()
        expect(timeline.locator(".tl-row.run")).to_have_count(8)
        expect(trace).to_have_class("st-ok selected")
        expect(graph.locator("[data-step=Fulfillment] .badge")).to_have_text("2\u2713")
        timeline.locator(".tl-row.emit[data-topic='payment.succeeded']").click()
        expect(timeline.locator("pre.detail")).to_contain_text(accepted["orderId"])
        timeline.locator(".tl-row.emit[data-topic='payment.succeeded']").click()

        png = page.screenshot(path=str(tmp_path / "workbench.png"))
        size, colours, spread = picture_stats(png)
        assert size == (1280, 800)
        assert colours > 200 and spread > 20, (
            f"a blank page? {colours} colours, stddev {spread:.1f}"
        )
        if os.environ.get("MOTIA_UPDATE_SCREENSHOTS"):
            DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "workbench.png", DOCS_IMAGE)

        # State browser: the groups the saga wrote, and the order in `orders`.
        page.locator(".tabs button[data-tab=state]").click()
        for group in ("orders", "payments", "order_status"):
            expect(page.locator(f"#state-groups button[data-group={group}]")).to_be_visible()
        page.locator("#state-groups button[data-group=order_status]").click()
        item = page.locator(f"#state-items details[data-key='{accepted['orderId']}']")
        item.locator("summary").click()
        expect(item.locator("pre")).to_contain_text('"status": "shipped"')

        # Dead letters: an event the subscribers reject, then Redrive.
        page.locator(".tabs button[data-tab=endpoints]").click()
        page.locator("#emit-topic").fill("order.priced")
        page.locator("#emit-data").fill('{"orderId": "no-such-order"}')
        page.locator("#emit").click()
        expect(page.locator("#emit-note")).to_contain_text("emitted on trace")
        expect(page.locator("#dead-count")).to_have_text("2")
        page.locator(".tabs button[data-tab=dead]").click()
        letter = page.locator("#dead-list .dead", has_text="ProcessPayment")
        expect(letter.locator(".error")).to_contain_text("failed validation")
        letter.locator("button.redrive").click()
        expect(page.locator("#dead-note")).to_have_text("Redriven to ProcessPayment (attempt 1).")
        # Invalid again, so it comes back: the stream shows the third failed run of that trace.
        expect(page.locator("#timeline-body .tl-row.run[data-outcome=invalid]")).to_have_count(3)
        page.goto("about:blank")  # close the event stream before the server stops


def test_the_workbench_sends_its_token_as_a_header_never_in_a_url(page: Page) -> None:
    from playwright.sync_api import Request, expect

    tools: list[Request] = []
    page.on("request", lambda r: tools.append(r) if "/__motia/" in r.url else None)
    with LiveServer(create_app(STEPS, cron=False, dev=False, token="s3cret")) as server:
        page.goto(server.url + "/__motia/workbench?token=s3cret")
        expect(page.locator("#graph g.node")).to_have_count(13)
        expect(page.locator("#conn")).to_have_text("live")  # the stream, by the page's cookie
        assert "token" not in page.url, "taken out of the address bar (history, screenshots)"
        page.locator("#emit-topic").fill("api.degraded")
        page.locator("#emit-data").fill('{"latencyMs": 5000, "reason": "slow"}')
        page.locator("#emit").click()
        expect(page.locator("#trace-list li .trace-title")).to_have_text(["emit api.degraded"])
        page.reload()  # the token is kept for the tab, not in the address
        expect(page.locator("#graph g.node")).to_have_count(13)
        expect(page.locator("#conn")).to_have_text("live")
        calls = [r for r in tools[1:] if "/__motia/workbench" not in r.url]
        assert calls and not any("token=" in r.url for r in calls), [r.url for r in calls]
        fetches = [r for r in calls if "/__motia/events" not in r.url]
        assert all(r.headers.get("authorization") == "Bearer s3cret" for r in fetches)
        assert {r.method for r in fetches} == {"GET", "POST"}
        page.goto("about:blank")


def test_a_seconds_first_cron_step_is_labelled_so(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.step_files import make_app

    steps = make_app(tmp_path, {"tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "*/10 * * * * *", "emits": []}
        async def handler(context):
            pass
    """})  # fmt: skip
    with LiveServer(create_app(steps, cron=False)) as server:
        page.goto(server.url + "/__motia/workbench")
        node = page.locator("#graph g.node.cron[data-step=Tick]")
        expect(node).to_contain_text("cron */10 * * * * * (sec first)")


CONSTRAINED = """
    from typing import Literal
    from pydantic import BaseModel, Field

    class Leg(BaseModel):
        origin: str = Field(min_length=3, max_length=3)
        seats: int = Field(ge=1, le=9)

    class Booking(BaseModel):
        traveler: str = Field(min_length=12)
        contact_email: str
        cabin: Literal["economy", "business"]
        legs: list[Leg] = Field(min_length=2)
        budget: float = Field(gt=100, multiple_of=50)
        note: str | None = None

    config = {"type": "api", "name": "Book", "path": "/bookings", "method": "POST",
              "bodySchema": Booking, "emits": []}
    async def handler(request, context):
        return {"status": 202, "body": {}}
"""
RAW = """
    config = {"type": "api", "name": "Raw", "path": "/raw/:id", "method": "PUT", "emits": [],
              "bodySchema": {"type": "object", "required": ["id", "when", "count", "tags"],
                             "properties": {"id": {"type": "string", "format": "uuid"},
                                            "when": {"type": "string", "format": "date-time"},
                                            "count": {"type": "integer", "exclusiveMinimum": 0,
                                                      "exclusiveMaximum": 5, "multipleOf": 2},
                                            "tags": {"type": "array", "minItems": 3,
                                                     "items": {"enum": ["a", "b"]}},
                                            "code": {"type": "string", "maxLength": 2}},
                             "additionalProperties": False}}
    async def handler(request, context):
        return {"status": 200, "body": {}}
"""


def test_the_tester_prefills_a_body_that_passes_the_route_schema(
    page: Page, tmp_path: Path
) -> None:
    from motia_rt.loader import load_steps
    from tests.step_files import make_app

    steps = make_app(tmp_path, {"book_step.py": CONSTRAINED, "raw_step.py": RAW})
    registry = load_steps(steps)
    bodies = {s.name: s.body for s in registry.of_kind("api")}
    with LiveServer(create_app(steps, cron=False)) as server:
        page.goto(server.url + "/__motia/workbench")
        page.wait_for_selector("html[data-ready=true]", state="attached")
        options = page.locator("#route option")
        assert options.count() == len(bodies) == 2
        for index in range(options.count()):
            page.locator("#route").select_option(str(index))
            name = options.nth(index).inner_text().split(" \u2014 ")[1]
            schema = bodies[name]
            assert schema is not None
            body = json.loads(page.locator("#body").input_value())
            schema.validate(body, f"{name}'s pre-filled body")  # raises when it fails the schema
        page.goto("about:blank")


def _schemas() -> object:
    """JSON Schemas with constraints a body can meet (bounds that leave room, integer steps)."""
    from hypothesis import strategies as st

    strings = st.one_of(
        st.builds(lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
                  st.integers(0, 12), st.integers(0, 30)),
        st.sampled_from(["email", "uuid", "date-time", "date"]).map(
            lambda fmt: {"type": "string", "format": fmt}),
    )  # fmt: skip
    numbers = st.builds(
        lambda kind, lo, exclusive, room, step: {"type": kind}
        | ({"exclusiveMinimum": lo} if exclusive else {"minimum": lo})
        | ({"multipleOf": step} if step else {"maximum": lo + room + 2}),
        st.sampled_from(["integer", "number"]), st.integers(-50, 50), st.booleans(),
        st.integers(0, 10), st.sampled_from([None, 2, 5, 10]),
    )  # fmt: skip
    leaves = st.one_of(
        strings, numbers, st.just({"type": "boolean"}),
        st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3).map(lambda v: {"enum": v}),
    )  # fmt: skip

    def extend(
        children: st.SearchStrategy[dict[str, object]],
    ) -> st.SearchStrategy[dict[str, object]]:
        objects = st.dictionaries(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True), children, max_size=4
        )
        return st.one_of(
            st.builds(
                lambda items, n: {"type": "array", "items": items, "minItems": n},
                children,
                st.integers(0, 3),
            ),
            objects.flatmap(
                lambda props: st.builds(
                    lambda required: {
                        "type": "object",
                        "properties": props,
                        "required": sorted(required),
                    },
                    st.sets(st.sampled_from(sorted(props))) if props else st.just(set()),
                )
            ),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def test_the_example_generator_meets_any_schema_it_supports(page: Page, tmp_path: Path) -> None:
    """Property: for bodies with lengths, formats, bounds, steps, enums, arrays and nested objects,
    the tester's example passes the schema (checked by the server's own validator)."""
    from hypothesis import given, settings

    from motia_rt.schema import Schema

    with LiveServer(create_app(STEPS, cron=False)) as server:
        page.goto(server.url + "/__motia/workbench")
        page.wait_for_selector("html[data-ready=true]", state="attached")

        @settings(max_examples=150, deadline=None, database=None)
        @given(schema=_schemas())
        def check(schema: dict[str, object]) -> None:
            body = page.evaluate("s => example(s, {}, 'field')", schema)
            Schema(schema).validate(body, "the example")

        check()
        page.goto("about:blank")
