"""Motia 1.0 configs normalised at load time; project layout (root importable, src/, warnings)."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt import StepLoadError, load_steps
from motia_rt.compat import StepConfigWarning, install_motia_module
from tests.step_files import make_app

HTTP_STEP = """
    from motia import http, queue
    config = {"name": "Both", "triggers": [http("POST", "/both"), queue("a.b")],
              "enqueues": ["b.c"]}
    def handler(input, ctx):
        return {"status": 200}
"""


def test_import_motia_gives_the_compat_package_when_the_real_one_is_absent() -> None:
    assert install_motia_module()
    import motia

    assert motia.__name__ == "motia_rt.compat"
    assert {"http", "queue", "cron", "enqueue", "stateManager", "Stream"} <= set(dir(motia))


def test_one_step_owns_a_view_per_trigger(tmp_path: Path) -> None:
    registry = load_steps(make_app(tmp_path / "steps", {"both_step.py": HTTP_STEP}))
    step = registry["Both"]
    assert [(v.kind, v.trigger and v.trigger.index) for v in step.views] == [
        ("api", 0),
        ("event", 1),
    ]
    assert step.emits == ("b.c",) and step.subscribes == ("a.b",)
    assert [s.name for s in registry.of_kind("api")] == ["Both"]
    assert [s.topic for s in registry.subscriptions()] == ["a.b"]
    assert registry.delivery_target("Both", "a.b").trigger == step.views[1].trigger


def test_classic_and_v1_steps_load_side_by_side(tmp_path: Path) -> None:
    classic = """
        config = {"type": "event", "name": "Old", "subscribes": ["a.b"], "emits": []}
        async def handler(input, context): pass
    """
    registry = load_steps(make_app(tmp_path / "steps", {"both_step.py": HTTP_STEP,
                                                        "old_step.py": classic}))  # fmt: skip
    assert sorted(s.name for s in registry.subscribers("a.b")) == ["Both", "Old"]


def test_dict_triggers_with_api_type_and_camel_case_keys(tmp_path: Path) -> None:
    source = """
        config = {"name": "Raw", "triggers": [
            {"type": "api", "method": "get", "path": "/raw"},
            {"type": "cron", "expression": "*/5 * * * *"}]}
        async def handler(input, ctx): return {"status": 200, "body": ctx.trigger.type}
    """
    registry = load_steps(make_app(tmp_path / "steps", {"raw_step.py": source}))
    assert [(v.kind, v.method, v.cron) for v in registry["Raw"].views] == [
        ("api", "GET", None), ("cron", None, "*/5 * * * *")]  # fmt: skip


@pytest.mark.parametrize(
    ("trigger", "field", "problem"),
    [
        ("{'type': 'webhook'}", "triggers[0].type", "not a known value"),
        ("{'type': 'http', 'path': '/x'}", "triggers[0].method", "is missing"),
        ("{'type': 'cron', 'expression': 'often'}", "triggers[0].expression", "not a valid cron"),
        ("{'type': 'queue', 'topic': 'a', 'condition': 3}", "triggers[0].condition", "callable"),
    ],
)
def test_a_bad_trigger_names_its_field(
    tmp_path: Path, trigger: str, field: str, problem: str
) -> None:
    source = f"config = {{'name': 'Bad', 'triggers': [{trigger}]}}\ndef handler(i, c): pass\n"
    with pytest.raises(StepLoadError) as caught:
        load_steps(make_app(tmp_path / "steps", {"bad_step.py": source}))
    assert caught.value.field == field and problem in caught.value.problem


def test_two_queue_triggers_on_one_topic_are_refused(tmp_path: Path) -> None:
    source = """
        from motia import queue
        config = {"name": "Twice", "triggers": [queue("a"), queue("a")]}
        def handler(i, c): pass
    """
    with pytest.raises(StepLoadError, match="already a queue trigger"):
        load_steps(make_app(tmp_path / "steps", {"twice_step.py": source}))


def test_a_route_taken_by_a_classic_step_is_refused_to_a_trigger(tmp_path: Path) -> None:
    classic = """
        config = {"type": "api", "name": "Old", "path": "/both", "method": "POST"}
        async def handler(req, context): pass
    """
    with pytest.raises(StepLoadError, match="already served"):
        load_steps(make_app(tmp_path / "steps", {"a_step.py": classic, "b_step.py": HTTP_STEP}))


def test_stream_triggers_warn_and_the_others_still_load(tmp_path: Path) -> None:
    source = """
        from motia import http, state, stream
        config = {"name": "Watch", "triggers": [state(), stream("todo"), http("GET", "/w")]}
        def handler(i, c): return {"status": 200}
    """
    with pytest.warns(StepConfigWarning) as caught:
        registry = load_steps(make_app(tmp_path / "steps", {"watch_step.py": source}))
    texts = [str(w.message) for w in caught]
    assert any("'Watch'" in t and "triggers[1] is a stream trigger" in t for t in texts)
    assert not any("triggers[0]" in t for t in texts)
    assert [v.kind for v in registry["Watch"].views] == ["state", "api"]
    assert registry["Watch"].kind == "event"  # shown as a reacting step


def test_a_step_with_only_stream_triggers_loads_inert(tmp_path: Path) -> None:
    source = "from motia import stream\nconfig = {'name': 'S', 'triggers': [stream('todo')]}\n"
    source += "def handler(i, c): pass\n"
    with pytest.warns(StepConfigWarning, match="does not fire yet"):
        registry = load_steps(make_app(tmp_path / "steps", {"s_step.py": source}))
    assert registry["S"].kind == "noop" and registry["S"].handler is None
    assert registry.subscriptions() == [] and registry.of_kind("noop") == [registry["S"]]


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("config = {'type': 'event', 'name': 'Old', 'subscribes': ['a'], 'retries': 3}\n"
         "async def handler(i, c): pass\n", "config key 'retries'"),
        ("config = {'name': 'New', 'triggers': [{'type': 'queue', 'topic': 'a'}], "
         "'emit': ['x']}\ndef handler(i, c): pass\n", "config key 'emit'"),
        ("config = {'name': 'New', 'triggers': [{'type': 'queue', 'topic': 'a', 'inptu': {}}]}\n"
         "def handler(i, c): pass\n", "triggers[0] key 'inptu'"),
    ],
)  # fmt: skip
def test_unknown_config_keys_warn_naming_step_and_key(
    tmp_path: Path, source: str, where: str
) -> None:
    with pytest.warns(StepConfigWarning, match=r"step '(Old|New)': unknown " + re.escape(where)):
        load_steps(make_app(tmp_path / "steps", {"x_step.py": source}))


def test_known_keys_do_not_warn(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StepConfigWarning)
        load_steps(make_app(tmp_path / "steps", {"both_step.py": HTTP_STEP}))


def test_the_project_root_is_importable_and_src_is_searched(tmp_path: Path) -> None:
    for name, title in (("one", "first"), ("two", "second")):
        make_app(tmp_path / name, {
            "services/__init__.py": "",
            "services/names.py": f"TITLE = {title!r}\n",
            "steps/a_step.py": """
                from motia import http
                from services.names import TITLE
                config = {"name": TITLE, "triggers": [http("GET", "/a")]}
                def handler(i, c): return {"status": 200}
            """,
            "src/deep/b_step.py": """
                from motia import queue
                config = {"name": "FromSrc", "triggers": [queue("t")]}
                def handler(i, c): pass
            """,
        })  # fmt: skip
    try:
        # Two apps with a `services` package each: each gets its own.
        assert sorted(s.name for s in load_steps(tmp_path / "one" / "steps")) == [
            "FromSrc",
            "first",
        ]
        assert "second" in load_steps(tmp_path / "two" / "steps")
        assert "first" in load_steps(tmp_path / "one")  # the project root itself
    finally:
        for root in ("one", "two"):
            if str(tmp_path / root) in sys.path:
                sys.path.remove(str(tmp_path / root))


_TRIGGERS = {
    "http": lambda i: f"http('GET', '/p{i}')",
    "queue": lambda i: f"queue('topic.{i}')",
    "cron": lambda i: f"cron('{i % 60} * * * *')",
}
_VIEW_KIND = {"http": "api", "queue": "event", "cron": "cron"}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(sorted(_TRIGGERS)), min_size=1, max_size=6))
def test_every_trigger_becomes_one_view_in_order(kinds: list[str]) -> None:
    import tempfile

    triggers = ", ".join(_TRIGGERS[k](i) for i, k in enumerate(kinds))
    source = (f"from motia import http, queue, cron\nconfig = {{'name': 'P', 'triggers': "
              f"[{triggers}]}}\ndef handler(i, c): pass\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        step = load_steps(make_app(Path(tmp) / "steps", {"p_step.py": source}))["P"]
    assert [(v.kind, v.trigger.index if v.trigger else None) for v in step.views] == [
        (_VIEW_KIND[k], i) for i, k in enumerate(kinds)
    ]
    assert step.subscribes == tuple(f"topic.{i}" for i, k in enumerate(kinds) if k == "queue")


def test_loading_an_app_with_a_tests_package_keeps_the_running_programs_modules(
    tmp_path: Path,
) -> None:
    # The repo's own steps register the repo (the working directory) as a project root; an app
    # whose root also has ``tests`` and ``steps`` must not make the running tests forget theirs.
    load_steps(Path(__file__).resolve().parents[2] / "steps")
    app = tmp_path / "app"
    make_app(app, {
        "tests/__init__.py": "",
        "steps/__init__.py": "",
        "steps/noop_step.py": 'config = {"type": "noop", "name": "Nothing", "virtualEmits": []}\n',
    })  # fmt: skip
    before = sys.modules.get(__name__)
    load_steps(app / "steps")
    assert sys.modules.get(__name__) is before is not None
