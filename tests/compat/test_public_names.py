"""``motia_rt.compat`` (what ``import motia`` gives without the real package): sorted, complete,
and holding the names Motia 1.0 steps import."""

from __future__ import annotations

import motia_rt.compat as compat

MOTIA_NAMES = {
    "ApiRequest", "ApiResponse", "FlowContext", "StateTriggerInput", "Stream", "StreamTriggerInput",
    "api", "cron", "enqueue", "http", "logger", "multi_trigger_step", "queue", "state",
    "stateManager", "step", "stream",
}  # fmt: skip


def test_all_is_sorted_and_names_what_the_package_defines() -> None:
    assert compat.__all__ == sorted(compat.__all__)
    public = {n for n, v in vars(compat).items() if not n.startswith("_") and n != "annotations"}
    public -= {"importlib", "sys"}
    assert set(compat.__all__) == public


def test_the_motia_1_0_names_are_there() -> None:
    assert MOTIA_NAMES <= set(compat.__all__)


def test_annotations_may_subscript_the_generic_names() -> None:
    for name in ("ApiRequest", "ApiResponse", "FlowContext", "Stream"):
        assert getattr(compat, name)[dict] is not None
