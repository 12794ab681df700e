"""Stopping the background work: drainable tasks finish what they do, others are cancelled."""

from __future__ import annotations

import asyncio

from entrypoints.http.app import Background, stop_background


async def test_drainable_tasks_finish_and_the_others_are_cancelled() -> None:
    asked = asyncio.Event()
    finished: list[str] = []

    async def drains() -> None:
        await asked.wait()
        await asyncio.sleep(0.01)  # the work under way
        finished.append("drained")

    async def loops() -> None:
        await asyncio.sleep(3600)
        finished.append("loop")  # never reached: cancelled

    draining = asyncio.create_task(drains())
    looping = asyncio.create_task(loops())
    background = Background([draining, looping], {draining: asked.set}, grace_s=5)
    await stop_background(background)
    assert finished == ["drained"]
    assert not draining.cancelled() and looping.cancelled()


async def test_a_task_that_outlives_its_grace_is_cancelled() -> None:
    async def stubborn() -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn())
    asked: list[bool] = []
    await stop_background(Background([task], {task: lambda: asked.append(True)}, grace_s=0.05))
    assert asked == [True] and task.cancelled()
