"""Unit tests of coursekit.event_loop: settle_tasks and running_on_event_loop (notebook 09)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from coursekit import running_on_event_loop, settle_tasks

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_settle_tasks_waits_for_tasks_that_end_by_themselves():
    gate = asyncio.Event()

    async def answer() -> str:
        await gate.wait()
        return "done"

    task = asyncio.create_task(answer())
    asyncio.get_running_loop().call_soon(gate.set)
    await settle_tasks(task)
    assert task.done() and not task.cancelled() and task.result() == "done"


async def test_settle_tasks_cancels_a_task_that_does_not_end_in_time(monkeypatch):
    monkeypatch.setattr("coursekit.event_loop.SETTLE_SECONDS", 0.05)  # instead of 3 s
    stuck = asyncio.create_task(asyncio.Event().wait())
    await settle_tasks(stuck)
    assert stuck.cancelled()


async def test_settle_tasks_retrieves_errors_so_asyncio_never_logs_them():
    reported: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        async def fails() -> None:
            raise ValueError("boom")

        task = asyncio.create_task(fails())
        await settle_tasks(task)
        assert isinstance(task.exception(), ValueError)  # the error is still there for whoever asks
        del task
        gc.collect()  # an unretrieved exception is reported when its task is collected
    finally:
        loop.set_exception_handler(None)
    assert reported == []


async def test_an_unsettled_failed_task_is_reported_which_is_what_settle_tasks_prevents():
    reported: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        async def fails() -> None:
            raise ValueError("boom")

        task = asyncio.create_task(fails())
        await asyncio.wait([task])
        del task
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert [context["message"] for context in reported] == ["Task exception was never retrieved"]


async def test_settle_tasks_accepts_tasks_already_done_and_no_tasks():
    task = asyncio.create_task(asyncio.sleep(0, result=1))
    await asyncio.wait([task])
    await settle_tasks(task)
    await settle_tasks()
    assert task.result() == 1


async def test_running_on_event_loop_is_true_in_async_code_and_what_it_calls():
    def called_from_async_code() -> bool:
        return running_on_event_loop()

    assert running_on_event_loop() is True
    assert called_from_async_code() is True


async def test_running_on_event_loop_is_false_in_a_worker_thread():
    assert await asyncio.to_thread(running_on_event_loop) is False


def test_running_on_event_loop_is_false_without_a_loop():
    assert running_on_event_loop() is False
