"""Benchmarks of motia-sim: every figure next to a baseline measured in the same run.

Run them with ``make bench`` (``python -m bench``); see docs/performance.md. One module per area
(``simulator``, ``dispatch``, ``http_load``, ``latency``, ``redis_transport``, ``memory``); the
modules ``serve``, ``redis_worker`` and ``rss_probe`` run as subprocesses of those.
"""
