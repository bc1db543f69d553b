"""Progress of long steps, reported to whoever listens (``warehouse run``'s display).

Business code calls ``advance(stage, ...)``; by default nobody listens and it costs a dict
lookup. ``warehouse run`` installs a listener that draws one rich progress bar per stage.
The work runs in this process (Airflow's ``dag.test()`` runs tasks in-process), so a
module-level listener reaches the tasks too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[[str, int, "int | None", dict[str, Any]], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def stop_listening(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def advance(stage: str, n: int = 1, total: int | None = None, **info: Any) -> None:
    """``n`` more units of ``stage`` done (of ``total``, when known); ``info`` e.g. rows."""
    for listener in list(_listeners):
        listener(stage, n, total, info)


def first_error_line(exc: BaseException | None) -> str:
    """The line of an exception a person needs first (a heading ending in ':' takes the
    line after it too)."""
    lines = [ln.strip() for ln in str(exc or "").splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__ if exc else "unknown error"
    return " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]
