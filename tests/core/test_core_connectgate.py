"""The connect gate (gemhost/connectgate.py): devices' connection attempts take turns, and a
device that never answers cannot hold the others back."""

from __future__ import annotations

import asyncio

from gemhost.connectgate import ConnectGate


async def test_at_most_the_gates_width_connect_at_once_and_every_one_gets_its_turn():
    gate = ConnectGate(concurrent=4, hold=30.0)
    running, most, done = 0, 0, []

    async def attempt(n: int) -> None:
        nonlocal running, most
        async with gate.turn():
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1
        done.append(n)

    await asyncio.wait_for(asyncio.gather(*(attempt(n) for n in range(40))), 30)
    assert most == 4 and sorted(done) == list(range(40))


async def test_hung_attempts_give_their_slot_back_after_the_hold():
    gate = ConnectGate(concurrent=2, hold=0.05)
    never = asyncio.Event()

    async def hung() -> None:
        async with gate.turn():
            await never.wait()

    stuck = [asyncio.create_task(hung()) for _ in range(6)]
    reached = asyncio.Event()

    async def healthy() -> None:
        async with gate.turn():
            reached.set()

    try:
        await asyncio.wait_for(healthy(), 10)  # six hung attempts ahead of it, two slots
        assert reached.is_set() and not any(t.done() for t in stuck)
    finally:
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)


async def test_a_slot_comes_back_once_whether_the_attempt_ends_before_or_after_the_hold():
    gate = ConnectGate(concurrent=1, hold=0.05)
    async with gate.turn():
        await asyncio.sleep(0.1)  # past the hold: the timer gave the slot back, the end must not again
    async with gate.turn():
        pass  # ended before the hold: given back at the end, the timer cancelled
    # still exactly one slot: a second attempt waits while the first is inside (both shorter
    # than the hold); a slot given back twice would let both in together
    order: list[str] = []

    async def attempt(name: str) -> None:
        async with gate.turn():
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.wait_for(asyncio.gather(attempt("a"), attempt("b")), 10)
    assert order == ["a in", "a out", "b in", "b out"]
