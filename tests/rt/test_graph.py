"""The flow graph (``/__motia/flows``, the Workbench) and its Mermaid form (``motia-rt graph``)."""

from __future__ import annotations

import re

import pytest

from motia_rt.cli import main
from motia_rt.graph import flow_graph, mermaid
from motia_rt.loader import load_steps
from tests.app.conftest import STEPS
from tests.rt.conftest import WriteSteps

NODE = re.compile(r"^    (\w+)(\[\"|\(\"|\[/\"|\{\")(.*?)(\"\]|\"\)|\"/\]|\"\})$")
EDGE = re.compile(r"^    (\w+) (-- (\S+) -->|-\. (\S+) \.->) (\w+)(\(\(\(done\)\)\))?$")


def test_flow_graph_of_the_reference_app() -> None:
    graph = flow_graph(load_steps(STEPS))
    steps = {s["name"]: s for s in graph["steps"]}
    assert len(steps) == 13
    assert steps["CreateOrder"]["type"] == "api" and steps["CreateOrder"]["path"] == "/orders"
    assert steps["ApiHealthCheck"]["cron"] == "*/5 * * * *"
    assert steps["ManualReview"]["virtualSubscribes"] == ["order.flagged"]
    assert steps["ProcessPayment"]["file"].endswith("process_payment_step.py")
    edges = {(e["from"], e["topic"], e["to"]): e["virtual"] for e in graph["edges"]}
    assert edges[("CreateOrder", "order.created", "ReserveInventory")] is False
    assert edges[("CalculatePrice", "order.priced", "ProcessPayment")] is False
    assert edges[("CalculatePrice", "order.priced", "RiskAnalysis")] is False
    assert edges[("RiskAnalysis", "order.flagged", "ManualReview")] is True
    assert edges[("ManualReview", "review.completed", None)] is True
    assert edges[("Fulfillment", "fulfillment.shipped", None)] is False
    # Every declared emit shows up as an edge, and every edge joins declared ends.
    for step in graph["steps"]:
        for topic in step["emits"] + step["virtualEmits"]:
            assert any(f == step["name"] and t == topic for f, t, _ in edges), (step, topic)
    for _, topic, to in edges:
        if to is not None:
            target = steps[to]
            assert topic in target["subscribes"] + target["virtualSubscribes"]
    assert set(graph["topics"]) >= {t for _, t, _ in edges}


def test_an_edge_is_virtual_when_either_end_is(write_steps: WriteSteps) -> None:
    folder = write_steps({
        "a_step.py": """
            config = {"type": "event", "name": "A", "subscribes": ["in"], "emits": ["real"],
                      "virtualEmits": ["drawn"]}
            async def handler(input, context): pass
        """,
        "b_step.py": """
            config = {"type": "event", "name": "B", "subscribes": ["real"], "emits": [],
                      "virtualSubscribes": ["drawn"]}
            async def handler(input, context): pass
        """,
        "c_step.py": """
            config = {"type": "noop", "name": "C", "virtualSubscribes": ["real"],
                      "virtualEmits": ["in"]}
        """,
    })  # fmt: skip
    edges = {
        (e["from"], e["topic"], e["to"], e["virtual"])
        for e in flow_graph(load_steps(folder))["edges"]
    }
    assert edges == {
        ("A", "real", "B", False),
        ("A", "real", "C", True),  # C only draws the subscription
        ("A", "drawn", "B", True),  # A only draws the emit
        ("C", "in", "A", True),  # a cycle, drawn: the workbench layout must cope
    }


def test_motia_rt_graph_prints_mermaid_with_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--steps", str(STEPS)]) == 0
    out = capsys.readouterr().out
    assert out == mermaid(load_steps(STEPS)) + "\n"
    lines = out.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = {m.group(1): m for line in lines[1:] if (m := NODE.match(line))}
    edges = [m for line in lines[1:] if (m := EDGE.match(line))]
    assert len(nodes) + len(edges) == len(lines) - 1, "every line is a node or an edge"
    names = {s["name"] for s in flow_graph(load_steps(STEPS))["steps"]}
    assert set(nodes) == names
    assert nodes["CreateOrder"].group(3) == "CreateOrder<br/>POST /orders"
    assert nodes["ApiHealthCheck"].group(3) == "ApiHealthCheck<br/>*/5 * * * *"
    assert nodes["ManualReview"].group(2) == '{"', "noop steps have their own shape"
    dashed = {(m.group(1), m.group(4), m.group(5)) for m in edges if m.group(4)}
    assert dashed == {
        ("RiskAnalysis", "order.flagged", "ManualReview"),
        ("ManualReview", "review.completed", "end_review_completed"),
    }
    solid = {(m.group(1), m.group(3), m.group(5)) for m in edges if m.group(3)}
    assert ("CalculatePrice", "order.priced", "RiskAnalysis") in solid
    assert ("Fulfillment", "fulfillment.shipped", "end_fulfillment_shipped") in solid
    for m in edges:
        assert m.group(1) in names and (m.group(5) in names or m.group(6))


def test_motia_rt_graph_reports_a_missing_steps_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--steps", "/nonexistent/steps"]) == 2
    err = capsys.readouterr().err
    assert "steps directory" in err and "Fix:" in err
