"""``workers.run_then_leave``: a spawned helper's messages all reach its parent, and its exit
code says whether its work raised, though it leaves with ``os._exit``."""

from __future__ import annotations

import multiprocessing

import pytest

from warehouse.workers import run_then_leave


def _send(queue, messages: int, fail: bool) -> None:  # type: ignore[no-untyped-def]
    for n in range(messages):
        queue.put(("progress", n, "x" * 1000))  # more than a pipe's buffer in all
    queue.put(("done", messages, ""))
    if fail:
        raise RuntimeError("the helper's work failed")


def _helper(queue, messages: int, fail: bool) -> None:  # type: ignore[no-untyped-def]
    run_then_leave(lambda: _send(queue, messages, fail), queue)


@pytest.mark.parametrize(("fail", "exitcode"), [(False, 0), (True, 1)])
def test_every_message_arrives_and_the_exit_code_says_how_the_work_ended(fail, exitcode):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_helper, args=(queue, 500, fail))
    process.start()
    received = [queue.get(timeout=60) for _ in range(501)]
    process.join(timeout=60)
    assert [m[1] for m in received] == list(range(501))
    assert received[-1][0] == "done"
    assert process.exitcode == exitcode
