"""The reconcile work queue: a key waits once, is never handled twice at a time, and a key
named while it is handled is handled again afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from modelops.workqueue import WorkQueue


def test_a_key_added_many_times_waits_once() -> None:
    async def main() -> list[Hashable]:
        handled: list[Hashable] = []
        gate = asyncio.Event()

        async def handle(key: Hashable) -> None:
            await gate.wait()
            handled.append(key)

        q = WorkQueue(handle, workers=1)
        for key in ["a", "b", "a", "a", "c", "b"]:
            q.add(key)
        await asyncio.sleep(0)  # the worker takes "a" and waits at the gate
        assert len(q) == 2  # b, c
        gate.set()
        await asyncio.sleep(0.05)
        await q.close()
        return handled

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_a_key_named_while_handled_is_handled_again_never_concurrently() -> None:
    async def main() -> tuple[int, int]:
        running = 0
        most = 0
        rounds = 0

        async def handle(key: Hashable) -> None:
            nonlocal running, most, rounds
            running += 1
            most = max(most, running)
            rounds += 1
            await asyncio.sleep(0.01)
            running -= 1

        q = WorkQueue(handle, workers=4)
        q.add("a")
        await asyncio.sleep(0.002)
        q.add("a")  # while "a" is handled: the round may have read older state
        q.add("a")
        await asyncio.sleep(0.1)
        await q.close()
        return most, rounds

    assert asyncio.run(main()) == (1, 2)


def test_a_failing_handler_does_not_stop_the_workers() -> None:
    async def main() -> list[Hashable]:
        handled: list[Hashable] = []

        async def handle(key: Hashable) -> None:
            handled.append(key)
            if key == "bad":
                raise RuntimeError("bug")

        q = WorkQueue(handle, workers=1)
        q.add("bad")
        q.add_after("later", 0.01)
        await asyncio.sleep(0.05)
        await q.close()
        return handled

    assert asyncio.run(main()) == ["bad", "later"]
