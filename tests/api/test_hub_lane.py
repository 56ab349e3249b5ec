"""The hub lane (``throttle.HubLane``): hub tokens from a refused address reach the hub one at
a time, with a bounded number waiting; past that the caller is told to come back."""

from __future__ import annotations

import asyncio

from nbcohort.cohorts.api.throttle import HubLane


def test_one_check_at_a_time_and_a_bounded_room() -> None:
    async def main() -> list[str]:
        lane, log, release = HubLane(room=3), [], asyncio.Event()

        async def check(name: str, hold: bool = False) -> None:
            async with lane.through() as admitted:
                if not admitted:
                    log.append(f"{name} refused")
                    return
                log.append(f"{name} in")
                if hold:
                    await release.wait()
                log.append(f"{name} out")

        first = asyncio.create_task(check("a", hold=True))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(check(n)) for n in ("b", "c")]
        await asyncio.sleep(0)
        await check("d")  # a, b and c fill the room of 3
        release.set()
        await asyncio.gather(first, *waiting)
        await check("e")  # the room emptied: in again
        return log

    assert asyncio.run(main()) == [
        "a in", "d refused", "a out", "b in", "b out", "c in", "c out", "e in", "e out",
    ]  # fmt: skip


def test_a_check_that_fails_leaves_the_lane() -> None:
    async def main() -> bool:
        lane = HubLane(room=1)
        try:
            async with lane.through() as admitted:
                assert admitted
                raise RuntimeError("the hub is down")
        except RuntimeError:
            pass
        async with lane.through() as admitted:
            return admitted

    assert asyncio.run(main()) is True
