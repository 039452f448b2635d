"""Test helpers around the event loop: tasks a test starts in the background, and which thread runs code.

- `settle_tasks(*tasks)`: a test that sends requests as background tasks (to check what the app
  answers *while* they run) ends by settling them, so that none is left running into the next cell
  and none logs an unretrieved exception later (a line on stderr, which nbgrader scores as zero).
- `running_on_event_loop()`: a probe for code that must run off the event loop. Call it inside a
  function the app runs (a model loader, say) and record the answer: True means the function ran
  on the loop's thread and froze every other request while it worked.

Used by notebook 09 (serving a model: background loading, inference off the event loop).
"""

from __future__ import annotations

import asyncio

SETTLE_SECONDS = 3.0  # how long settle_tasks waits for tasks to end by themselves
CANCEL_SECONDS = 1.0  # how long it then waits for cancelled tasks to finish cancelling


async def settle_tasks(*tasks: asyncio.Task) -> None:
    """Wait at most 3 s for background tasks to end, cancel the rest, and collect their errors.

    Args:
        *tasks: tasks the test started with asyncio.create_task (done ones are fine too).

    Tasks still running after 3 s are cancelled, and given at most 1 s more to finish. The
    exception of every task that ended with one is retrieved (and dropped), so asyncio never
    reports it later; a test that wants the result or error awaits the task itself first.
    Returns None and never raises.
    """
    pending = [task for task in tasks if not task.done()]
    if pending:
        _, still_running = await asyncio.wait(pending, timeout=SETTLE_SECONDS)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.wait(still_running, timeout=CANCEL_SECONDS)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # mark it as retrieved: asyncio then never logs it later


def running_on_event_loop() -> bool:
    """True when called from the thread that runs an event loop (async code, or what it calls directly).

    False in a worker thread (`asyncio.to_thread`, `run_in_threadpool`, a plain `def` endpoint),
    where no event loop is running.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
