"""ManualReview: a person looks at flagged orders. A noop step: drawn in the flow, runs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from motia_rt import NoopConfig

config: NoopConfig = {
    "type": "noop",
    "name": "ManualReview",
    "description": "A fraud analyst reviews orders that risk analysis blocked",
    "virtualSubscribes": ["order.flagged"],
    "virtualEmits": [{"topic": "review.completed", "label": "analyst decision"}],
    "flows": ["orders"],
}
