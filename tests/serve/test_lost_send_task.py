"""A send task lost with a killed worker (its redelivery gone too) must not hold its
company's batch forever: the clock enqueues again once two visibility timeouts passed."""

from __future__ import annotations

import time
from types import SimpleNamespace

from hub.serve.executor import CeleryExecutor


class NeverDone:
    def ready(self) -> bool:
        return False


def test_a_send_task_never_done_is_given_up_after_two_visibility_timeouts(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    ex = CeleryExecutor.__new__(CeleryExecutor)  # no broker: the enqueue is counted
    ex.ws = SimpleNamespace(config=SimpleNamespace(scale=SimpleNamespace(
        send_batch=40, visibility_timeout=15)))
    ex.pending, sent = [], []
    ex.due = lambda: 40  # one batch due, held by nobody
    ex._enqueue = lambda *args: sent.append(args) or NeverDone()
    assert ex._enqueue_sends() == 1
    clock[0] += 20  # the task may still come back (redelivered after 15 s): wait for it
    assert ex._enqueue_sends() == 0
    clock[0] += 11  # 31 s: lost — another task takes the batch
    assert ex._enqueue_sends() == 1
    assert len(sent) == 2
