"""Handler timeouts with one loop timer per task, not one per run.

``asyncio.timeout`` arms a loop timer on entry and cancels it on exit: a ``TimerHandle`` and a heap
push for every handler run, about a third of what the engine spends on a no-op delivery. A worker
task that runs deliveries one after another needs one timer at a time: when it fires early (it
was armed for an earlier run) it is moved to the current run's deadline; when the task has no run
any more it is cancelled on the next loop iteration, so an idle loop (or the simulator's virtual
clock) never waits on a stale deadline.

Tasks that run one handler and end (an HTTP request each) cannot keep a timer between runs; their
runs wait in one queue per timeout length instead. Runs of equal length end their deadlines in the
order they started, so the queue is in deadline order and one timer, armed at its head, serves
them all; a run that ends just leaves the queue, and an empty queue drops its timer on the next
loop iteration. Requests arriving together then share one timer instead of arming and
cancelling one each.

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
        "loop",
        "queue",
        "sweeping",
        "task",
        "timer",
        "when",
    )

    def __init__(self, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop) -> None:
        self.task = task
        self.loop = loop
        self.when: float | None = None
        """The running run's deadline (loop time); None between runs."""
        self.timer: asyncio.TimerHandle | None = None
        self.armed = 0.0
        """When ``timer`` fires."""
        self.cancelling = 0
        self.expired = False
        self.sweeping = False
        self.queue: _OneRuns | None = None
        """A one-run deadline's queue; None for a worker's, kept for the task's next run."""


class _OneRuns:
    """The running one-run deadlines of one timeout length on one loop, in deadline order, and
    the timer armed at the first of them."""

    __slots__ = ("armed", "loop", "runs", "sweeping", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.runs: dict[Deadline, None] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.armed = 0.0
        self.sweeping = False


class Deadlines:
    """``enter(seconds)`` before a run, ``leave(deadline, cancelled)`` after it."""

    __slots__ = ("_by_task", "_one_runs")

    def __init__(self) -> None:
        self._by_task: dict[asyncio.Task[object], Deadline] = {}
        self._one_runs: dict[float, _OneRuns] = {}

    def enter(self, seconds: float, *, reuse: bool = True) -> Deadline:
        """Start a run of at most ``seconds`` in the current task. ``reuse=False`` for a task that
        runs one handler and ends (an HTTP request): its deadline waits in a shared queue."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a handler must run inside an asyncio task")
        if not reuse:
            return self._enter_one_run(task, seconds)
        d = self._by_task.get(task)
        if d is None:
            d = self._by_task[task] = Deadline(task, task.get_loop())
        d.when = when = d.loop.time() + seconds
        d.cancelling = task.cancelling()
        d.expired = False
        if d.timer is None or d.armed > when:
            if d.timer is not None:
                d.timer.cancel()
            d.timer, d.armed = d.loop.call_at(when, self._fire, d), when
        return d

    def _enter_one_run(self, task: asyncio.Task[object], seconds: float) -> Deadline:
        loop = task.get_loop()
        queue = self._one_runs.get(seconds)
        if queue is None or queue.loop is not loop:
            queue = self._one_runs[seconds] = _OneRuns(loop)
        d = Deadline(task, loop)
        d.when = loop.time() + seconds
        d.cancelling = task.cancelling()
        d.queue = queue
        queue.runs[d] = None
        if queue.timer is None:
            queue.timer, queue.armed = loop.call_at(d.when, self._fire_queue, queue), d.when
        return d

    def leave(self, d: Deadline, cancelled: bool) -> bool:
        """End the run; True when its ``CancelledError`` is the deadline's (raise TimeoutError)."""
        d.when = None
        queue = d.queue
        if queue is not None:
            queue.runs.pop(d, None)
            if not queue.runs and not queue.sweeping:
                queue.sweeping = True
                d.loop.call_soon(self._sweep_queue, queue)
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

    def _fire_queue(self, queue: _OneRuns) -> None:
        queue.timer = None
        runs = queue.runs
        for d in list(runs):
            if d.when is None or d.when > queue.armed:
                break
            del runs[d]
            d.expired = True
            d.task.cancel()
        if runs:  # the first run still going, armed for a run that ended in time
            head = next(iter(runs)).when
            assert head is not None
            queue.timer, queue.armed = queue.loop.call_at(head, self._fire_queue, queue), head

    def _sweep_queue(self, queue: _OneRuns) -> None:
        queue.sweeping = False
        if not queue.runs and queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None

    def _sweep(self, d: Deadline) -> None:
        d.sweeping = False
        if d.when is None:
            if d.timer is not None:
                d.timer.cancel()
                d.timer = None
            # Forgotten between runs: a finished task leaves nothing behind; a worker that takes
            # another run starts a new entry.
            self._by_task.pop(d.task, None)
