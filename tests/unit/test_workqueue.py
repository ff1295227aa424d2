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


def test_failed_keys_back_off_per_key_doubling_up_to_a_minute() -> None:
    async def main() -> tuple[list[float], list[float], int]:
        async def handle(key: Hashable) -> None:
            pass

        q = WorkQueue(handle, workers=1)
        a = [q.add_rate_limited("a") for _ in range(8)]
        b = [q.add_rate_limited("b")]  # another key starts at 1 s
        q.forget("a")
        again = q.failures("a")
        await q.close()
        return a, b, again

    a, b, again = asyncio.run(main())
    assert a == [1, 2, 4, 8, 16, 32, 60, 60] and b == [1] and again == 0


def test_a_key_asked_for_later_waits_on_one_timer_the_earliest() -> None:
    async def main() -> list[tuple[Hashable, float]]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        handled: list[tuple[Hashable, float]] = []

        async def handle(key: Hashable) -> None:
            handled.append((key, round(loop.time() - t0, 2)))

        q = WorkQueue(handle, workers=1)
        q.add_after("a", 0.2)
        q.add_after("a", 0.05)  # earlier: replaces the 0.2 s timer
        q.add_after("a", 0.1)  # later than the one waiting: nothing new
        q.add_after("b", 0.1)
        await asyncio.sleep(0.3)
        await q.close()
        return handled

    handled = asyncio.run(main())
    assert [k for k, _ in handled] == ["a", "b"]
    assert handled[0][1] < 0.1
