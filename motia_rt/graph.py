"""The flow graph of an app: steps, topics, and who emits and subscribes to what (real and virtual).

``flow_graph`` feeds the Workbench; ``mermaid`` is what ``motia-rt graph`` prints.
"""

from __future__ import annotations

import re
from typing import Any

from .steps import StepRegistry

__all__ = ["flow_graph", "mermaid"]


def flow_graph(registry: StepRegistry) -> dict[str, Any]:
    """``{"steps": [...], "topics": [...], "edges": [{"from", "to", "topic", "virtual"}]}``.

    An edge joins an emitting step to a subscribing step through a topic; a topic nobody
    subscribes to gets an edge to ``None`` (terminal).
    """
    steps = [{
        "name": s.name, "type": s.kind, "flows": list(s.flows), "path": s.path,
        "method": s.method, "cron": s.cron, "subscribes": list(s.subscribes),
        "emits": list(s.emits), "virtualEmits": list(s.virtual_emits),
        "virtualSubscribes": list(s.virtual_subscribes), "file": str(s.file),
        "description": s.config.get("description", ""),
    } for s in registry]  # fmt: skip
    edges: list[dict[str, Any]] = []
    for source in registry:
        for virtual, topics in ((False, source.emits), (True, source.virtual_emits)):
            for topic in topics:
                targets: list[tuple[str | None, bool]] = [
                    (t.name, virtual or topic not in t.subscribes)
                    for t in registry
                    if topic in t.subscribes or topic in t.virtual_subscribes
                ]
                for target, is_virtual in targets or [(None, virtual)]:
                    edges.append({"from": source.name, "to": target, "topic": topic,
                                  "virtual": is_virtual})  # fmt: skip
    return {"steps": steps, "topics": registry.topics(), "edges": edges}


def _node(name: str) -> str:
    return re.sub(r"\W", "_", name)


def mermaid(registry: StepRegistry) -> str:
    """The flow as a Mermaid ``flowchart LR``: dashed arrows are virtual (noop) edges."""
    shapes = {"api": '["{label}"]', "event": '("{label}")', "cron": '[/"{label}"/]',
              "noop": '{{"{label}"}}'}  # fmt: skip
    lines = ["flowchart LR"]
    for step in registry:
        label = f"{step.name}<br/>{step.method} {step.path}" if step.kind == "api" else step.name
        if step.kind == "cron":
            label += f"<br/>{step.cron}"
        lines.append(f"    {_node(step.name)}" + shapes[step.kind].format(label=label))
    for edge in flow_graph(registry)["edges"]:
        arrow = (
            "-. " + edge["topic"] + " .->" if edge["virtual"] else "-- " + edge["topic"] + " -->"
        )
        target = _node(edge["to"]) if edge["to"] else f"end_{_node(edge['topic'])}(((done)))"
        lines.append(f"    {_node(edge['from'])} {arrow} {target}")
    return "\n".join(lines)
