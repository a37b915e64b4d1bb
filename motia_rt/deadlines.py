"""Handler timeouts with one loop timer per task, not one per run.

``asyncio.timeout`` arms a loop timer on entry and cancels it on exit: a ``TimerHandle`` and a heap
push for every handler run, about a third of what the engine spends on a no-op delivery. A worker
task that runs deliveries one after another needs one timer at a time: when it fires early (it
was armed for an earlier run) it is moved to the current run's deadline; when the task has no run
any more it is cancelled on the next loop iteration, so an idle loop (or the simulator's virtual
clock) never waits on a stale deadline.

The expiry semantics are ``asyncio.timeout``'s: the task is cancelled, and the ``CancelledError``
that ends the run becomes a ``TimeoutError`` unless the task was also cancelled from outside.
"""

from __future__ import annotations

import asyncio

__all__ = ["Deadline", "Deadlines"]


class Deadline:
    """The timeout state of one task: the running run's deadline and the timer watching it."""

    __slots__ = (
        "armed",
        "cancelling",
        "expired",
        "kept",
        "loop",
        "sweeping",
        "task",
        "timer",
        "when",
    )

    def __init__(
        self, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop, kept: bool
    ) -> None:
        self.task = task
        self.loop = loop
        self.kept = kept
        """Kept for the task's next run (a worker); otherwise its timer goes with its run."""
        self.when: float | None = None
        """The running run's deadline (loop time); None between runs."""
        self.timer: asyncio.TimerHandle | None = None
        self.armed = 0.0
        """When ``timer`` fires."""
        self.cancelling = 0
        self.expired = False
        self.sweeping = False


class Deadlines:
    """``enter(seconds)`` before a run, ``leave(deadline, cancelled)`` after it."""

    __slots__ = ("_by_task",)

    def __init__(self) -> None:
        self._by_task: dict[asyncio.Task[object], Deadline] = {}

    def enter(self, seconds: float, *, reuse: bool = True) -> Deadline:
        """Start a run of at most ``seconds`` in the current task. ``reuse=False`` for a task that
        runs one handler and ends (an HTTP request): its timer is cancelled as the run ends."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a handler must run inside an asyncio task")
        d = self._by_task.get(task) if reuse else None
        if d is None:
            d = Deadline(task, task.get_loop(), reuse)
            if reuse:
                self._by_task[task] = d
        d.when = when = d.loop.time() + seconds
        d.cancelling = task.cancelling()
        d.expired = False
        if d.timer is None or d.armed > when:
            if d.timer is not None:
                d.timer.cancel()
            d.timer, d.armed = d.loop.call_at(when, self._fire, d), when
        return d

    def leave(self, d: Deadline, cancelled: bool) -> bool:
        """End the run; True when its ``CancelledError`` is the deadline's (raise TimeoutError)."""
        d.when = None
        if not d.kept:
            if d.timer is not None:
                d.timer.cancel()
                d.timer = None
        elif not d.sweeping:
            d.sweeping = True
            d.loop.call_soon(self._sweep, d)
        if d.expired:
            d.expired = False
            return d.task.uncancel() <= d.cancelling and cancelled
        return False

    def _fire(self, d: Deadline) -> None:
        d.timer = None
        if d.when is None:
            return
        if d.when <= d.armed:
            d.expired = True
            d.task.cancel()
        else:  # armed for an earlier run that ended in time
            d.timer, d.armed = d.loop.call_at(d.when, self._fire, d), d.when

    def _sweep(self, d: Deadline) -> None:
        d.sweeping = False
        if d.when is None:
            if d.timer is not None:
                d.timer.cancel()
                d.timer = None
            # Forgotten between runs: a finished task leaves nothing behind; a worker that takes
            # another run starts a new entry.
            self._by_task.pop(d.task, None)
