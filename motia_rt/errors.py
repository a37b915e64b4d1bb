"""Exceptions with messages that say what went wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BackendUnavailable",
    "EmitNotDeclared",
    "HandlerCrash",
    "InputValidationError",
    "MotiaError",
    "StepLoadError",
    "TopicTimeout",
    "UnknownService",
    "describe_error",
]


class MotiaError(Exception):
    """Base class of every error motia_rt raises on purpose."""


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of ``exc``; an exception group (a TaskGroup's, anyio's) is opened to the
    errors inside it, so a failure reads as what failed, not as "unhandled errors in a TaskGroup"."""
    leaves = list(_leaves(exc))
    shown = "; ".join(f"{type(e).__name__}: {e}" for e in leaves[:3])
    return shown + (f"; and {len(leaves) - 3} more" if len(leaves) > 3 else "")


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


class BackendUnavailable(MotiaError):
    """A backend (Redis) stayed unreachable for as long as the caller may wait.

    The call may or may not have taken effect (a reply lost in an outage does not say), so retry
    it only if repeating it is safe: over HTTP the answer is 503 with ``Retry-After``, and a
    client that sends the request again with the same idempotency key gets one effect.
    """

    def __init__(
        self, backend: str, waited: float, retry_after: int, cause: BaseException | None = None
    ) -> None:
        self.backend = backend
        self.waited = waited
        self.retry_after = retry_after
        reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        super().__init__(
            f"{backend} unreachable for {waited:.1f}s{reason}; try again in {retry_after}s "
            "(with the same idempotency key, if the request has one)"
        )


class StepLoadError(MotiaError):
    """A step file cannot be loaded: names the file, the config field and how to fix it."""

    def __init__(self, file: Path | str, field: str, problem: str, fix: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.file}: {field}: {problem}. Fix: {fix}")


class EmitNotDeclared(MotiaError):
    """A handler emitted to a topic its config does not list in ``emits``."""

    def __init__(self, step: str, topic: str, declared: Sequence[str]) -> None:
        self.step = step
        self.topic = topic
        self.declared = list(declared)
        listed = ", ".join(repr(t) for t in declared) or "nothing"
        super().__init__(
            f"step {step!r} emitted {topic!r} but declares emits: [{listed}]. "
            f"Add {topic!r} to the step's config['emits'] or emit a declared topic."
        )


class HandlerCrash(BaseException):
    """The process running a handler died mid-run (the simulator raises it to model a crash).

    A ``BaseException`` so that a handler's ``except Exception`` cannot swallow it, just as code
    cannot catch its own process being killed. The engine does not ack the delivery: the message
    is delivered again after the step's visibility timeout, as a real queue would.
    """


class InputValidationError(MotiaError):
    """Data did not match a step's schema; ``errors`` is a list of JSON-ready field errors."""

    def __init__(self, what: str, errors: list[dict[str, Any]]) -> None:
        self.what = what
        self.errors = errors
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors
        )
        super().__init__(f"{what} failed validation: {detail}")


class TopicTimeout(MotiaError, TimeoutError):
    """``wait_for_topic`` saw no matching event in time; lists what was emitted instead."""

    def __init__(
        self, topic: str, timeout: float, match: object, emitted: Sequence[tuple[str, Any]]
    ) -> None:
        self.topic = topic
        self.timeout = timeout
        self.emitted = list(emitted)
        matched = "" if match is None else f" matched {match!r}"
        lines = [f"no event on {topic!r}{matched} within {timeout:g}s."]
        same = [data for t, data in emitted if t == topic]
        if same:
            lines.append(f"{len(same)} event(s) on {topic!r} did not match; closest: {same[-1]!r}")
        if emitted:
            lines.append("emitted so far (topic: data):")
            lines.extend(f"  {t}: {data!r}" for t, data in emitted[-20:])
            if len(emitted) > 20:
                lines.append(f"  ... and {len(emitted) - 20} earlier")
        else:
            lines.append("nothing was emitted at all.")
        super().__init__("\n".join(lines))


class UnknownService(MotiaError, AttributeError, KeyError):
    """A step asked ``context.services`` for a name that is not bound."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        super().__init__(
            f"no service named {name!r}; bound services: {sorted(known)}. Bind it with "
            f"services={{{name!r}: obj}} on Runtime/Simulation/server, or in the app's services module."
        )

    def __str__(self) -> str:
        return str(self.args[0])
