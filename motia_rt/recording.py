"""Recordings of outbound HTTP: run a flow once against the real API, serve it offline afterwards.

``Recorder(DIR)`` (``Runtime(record=DIR)``, ``motia-rt dev --record DIR``) writes every real
exchange a step makes through httpx as one JSON file, ``0001-POST-api.pets.test.json``: method,
URL, headers, body, then the response's status, headers and body. Secrets are redacted before
anything is written: the ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie``
headers, any header whose name holds ``key``, ``token``, ``secret`` or ``password``, and query
parameters named that way. Bodies are kept as they were (JSON shown as JSON).

``recording(DIR)`` serves them back as fakes for the virtual network, one per recorded host:
``Simulation("steps", http=recording("recordings/adopt"))``. The rule:

- a request matches a recorded one with the same method, URL (as recorded, redacted query values
  match any value) and body (JSON compared as values, anything else byte for byte);
- the k-th matching request of a run gets the k-th recorded response of that request, and once
  those run out, the last one again (a retry sees what the API last said);
- a request that matches nothing raises ``UnmatchedRequest`` naming the closest recorded request,
  never a made-up answer.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

__all__ = ["REDACTED", "Recorder", "UnmatchedRequest", "recording"]

REDACTED = "[redacted]"
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_SECRET_WORDS = re.compile(r"key|token|secret|password|auth", re.IGNORECASE)


class UnmatchedRequest(LookupError):
    """A request the recording has no answer for; names the closest recorded request."""


class Recorder:
    """Writes each exchange it is given to ``directory`` (created if missing), numbered after the
    files already there, so one directory can hold several sessions in order."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._count = len(list(self.directory.glob("*.json")))

    def record(self, request: httpx.Request, response: httpx.Response) -> Path:
        """Write one exchange (``response`` must have been read). Returns the file written."""
        self._count += 1
        host = re.sub(r"[^A-Za-z0-9.-]", "_", request.url.host or "unknown")
        path = self.directory / f"{self._count:04d}-{request.method}-{host}.json"
        exchange = {
            "request": {
                "method": request.method,
                "url": _redacted_url(request.url),
                "headers": _redacted_headers(request.headers),
                "body": _body(request.content, request.headers),
            },
            "response": {
                "status": response.status_code,
                "headers": _redacted_headers(response.headers),
                "body": _body(response.content, response.headers),
            },
        }
        path.write_text(json.dumps(exchange, indent=2, ensure_ascii=False) + "\n")
        return path


def recording(directory: str | Path) -> Callable[[], dict[str, Any]]:
    """The fakes serving the exchanges recorded in ``directory``, by host: a function returning
    fresh ones (each run starts from the first recorded response), as ``http=`` accepts.

    Raises ``LookupError`` if the directory holds no recording."""
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        raise LookupError(f"no recorded exchanges (*.json) in {directory}")
    exchanges = [json.loads(f.read_text()) for f in files]
    hosts = sorted({httpx.URL(e["request"]["url"]).host for e in exchanges})

    def fakes() -> dict[str, Any]:
        return {
            host: _Replayer(
                host, [e for e in exchanges if httpx.URL(e["request"]["url"]).host == host]
            )
            for host in hosts
        }

    return fakes


class _Replayer:
    """One host's recorded exchanges, answered by the rule in the module docstring."""

    def __init__(self, host: str, exchanges: list[dict[str, Any]]) -> None:
        self.host = host
        self._exchanges = exchanges
        self._served: dict[int, int] = {}
        """index of the first exchange of a request -> how many times that request was served."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        matching = [i for i, e in enumerate(self._exchanges) if _matches(e["request"], request)]
        if not matching:
            raise UnmatchedRequest(self._unmatched(request))
        n = self._served.get(matching[0], 0)
        self._served[matching[0]] = n + 1
        answer = self._exchanges[matching[min(n, len(matching) - 1)]]["response"]
        headers = {k: v for k, v in answer["headers"].items() if k.lower() != "content-length"}
        return httpx.Response(answer["status"], headers=headers, content=_bytes(answer["body"]))

    def _unmatched(self, request: httpx.Request) -> str:
        recorded = [f"{e['request']['method']} {e['request']['url']}" for e in self._exchanges]
        same_path = [
            r
            for r in recorded
            if r.split(" ", 1)[1].split("?")[0] == str(request.url).split("?")[0]
        ]
        closest = (same_path or recorded)[0]
        return (
            f"the recording for {self.host!r} has no answer for {request.method} {request.url} "
            f"with this body; closest recorded: {closest}. Record the flow again "
            "(Runtime(record=DIR) or motia-rt dev --record DIR), or fake this request yourself."
        )


def _matches(recorded: Mapping[str, Any], request: httpx.Request) -> bool:
    if recorded["method"] != request.method:
        return False
    if not _same_url(httpx.URL(recorded["url"]), request.url):
        return False
    return bool(_body(request.content, request.headers) == recorded["body"])


def _same_url(recorded: httpx.URL, url: httpx.URL) -> bool:
    if (recorded.scheme, recorded.host, recorded.port, recorded.path) != (
        url.scheme, url.host, url.port, url.path,
    ):  # fmt: skip
        return False
    mine = sorted(recorded.params.multi_items())
    theirs = sorted(url.params.multi_items())
    if len(mine) != len(theirs):
        return False
    return all(k1 == k2 and (v1 == v2 or v1 == REDACTED)
               for (k1, v1), (k2, v2) in zip(mine, theirs, strict=True))  # fmt: skip


def _redacted_headers(headers: httpx.Headers) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in _SECRET_HEADERS or _SECRET_WORDS.search(name) else value
        for name, value in headers.items()
    }


def _redacted_url(url: httpx.URL) -> str:
    params = [(k, REDACTED if _SECRET_WORDS.search(k) else v) for k, v in url.params.multi_items()]
    return str(url.copy_with(params=params)) if params else str(url)


def _body(content: bytes, headers: httpx.Headers) -> Any:
    """JSON as JSON, other UTF-8 text as a string, anything else as ``{"base64": ...}``."""
    if not content:
        return None
    if "json" in headers.get("content-type", ""):
        try:
            return {"json": json.loads(content)}
        except ValueError:
            pass
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if "json" in body:
        return json.dumps(body["json"], separators=(",", ":")).encode()
    if "text" in body:
        return str(body["text"]).encode()
    return base64.b64decode(body["base64"])
