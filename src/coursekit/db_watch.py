"""Database helpers for test cells: put rows in, read what a request left behind, count SQL statements.

Used by the database notebook (07) and the capstone (13). Both keep their app's database behind an async
SQLAlchemy sessionmaker that the app's lifespan creates; these helpers find it on the app:

- `app.state.sessionmaker` (07's `make_app`), or
- `app.state.ctx.sessionmaker` (13's `build_app`, which keeps everything in one context object).

So the app must be running (inside `async with app_client(app)`) when they are called. Every database
call has a time limit of 3 seconds and fails with a message that says what hung.

    (owner,) = await add_rows(app, User(email="a@example.com", name="A"))   # owner.id is set now
    expect(await count_rows(app, Message, conversation_id=7) == 0, "nothing stored")
    rows = await db_rows(app, select(User.id, User.email))                     # [(1, "a@example.com")]
    with watch_db(engine) as spy:                                             # plain `with`: no await
        ...
    print(len(spy.statements), "statements,", spy.checkouts, "connections borrowed")
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from .checks import fail, within

if TYPE_CHECKING:  # SQLAlchemy is imported where it is used: most notebooks never need it
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

DB_SECONDS = 3.0  # the time limit of each helper's database work


def _sessionmaker(app: Any) -> async_sessionmaker[AsyncSession]:
    """The app's sessionmaker: `app.state.sessionmaker`, else `app.state.ctx.sessionmaker`."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    state = app.state
    maker = getattr(state, "sessionmaker", None)
    if maker is None:
        ctx = getattr(state, "ctx", None)
        maker = getattr(ctx, "sessionmaker", None)
    if maker is None:
        fail("The app has no database session factory yet: its lifespan makes one when the app starts.",
             hint="call this inside `async with app_client(app) as client:`")
    return maker


async def add_rows(app: Any, *rows: Any) -> tuple[Any, ...]:
    """Insert ORM objects into the app's database, in one transaction that commits.

    Args:
        app: a running app (see the module docstring for where its sessionmaker is found).
        rows: ORM objects; related objects attached to them are inserted too.

    Returns the same objects, as a tuple, now with their ids (the sessionmaker must use
    `expire_on_commit=False`, as the course's do). Fails (CheckFailed) after 3 seconds, and the
    database's own error (an IntegrityError, say) propagates unchanged.
    """
    maker = _sessionmaker(app)

    async def insert() -> None:
        async with maker.begin() as session:
            session.add_all(rows)

    await within(insert(), DB_SECONDS, "inserting test rows")
    return rows


async def db_rows(app: Any, statement: Any) -> list[tuple]:
    """Run a SQLAlchemy statement (a `select(...)`) in a new session; returns every row as a plain tuple.

    `await db_rows(app, select(User.id, User.name).order_by(User.id))` gives `[(1, "ada"), (2, "bob")]`.
    Nothing is committed. Fails (CheckFailed) after 3 seconds.
    """
    maker = _sessionmaker(app)

    async def run() -> list[tuple]:
        async with maker() as session:
            return [tuple(row) for row in (await session.execute(statement)).all()]

    return await within(run(), DB_SECONDS, "reading the database")


async def count_rows(app: Any, model: Any, **where: Any) -> int:
    """How many rows of the ORM class `model` the app's database holds.

    Keyword arguments filter by column equality: `count_rows(app, Message, conversation_id=3)`.
    A column name that the model does not have raises SQLAlchemy's InvalidRequestError. Fails
    (CheckFailed) after 3 seconds.
    """
    from sqlalchemy import func, select

    maker = _sessionmaker(app)

    async def count() -> int:
        async with maker() as session:
            return await session.scalar(select(func.count()).select_from(model).filter_by(**where))

    return await within(count(), DB_SECONDS, f"counting {model.__tablename__}")


class watch_db:
    """Record what an engine does inside a `with` block: the SQL statements sent and the pool check-outs.

    `with watch_db(engine) as spy:` listens to the engine's `before_cursor_execute` event and to its pool's
    `checkout` event until the block ends (even when it raises), then stops listening. Afterwards:

    - `spy.statements`: each statement sent, in order, its whitespace squeezed to single spaces
      (transaction control such as BEGIN and COMMIT is not sent through a cursor, so it is not listed);
    - `spy.checkouts`: how many times a connection was borrowed from the pool.

    It counts; it never waits, so it needs no time limit. The name is lower case because it is used like a
    function, in a `with` statement.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        """Prepare to watch `engine` (an AsyncEngine); nothing is recorded before the `with` block starts."""
        self.sync_engine = engine.sync_engine
        self.statements: list[str] = []
        self.checkouts = 0

    def _on_statement(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> None:
        self.statements.append(" ".join(statement.split()))

    def _on_checkout(self, dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        self.checkouts += 1

    def __enter__(self) -> watch_db:
        from sqlalchemy import event

        event.listen(self.sync_engine, "before_cursor_execute", self._on_statement)
        event.listen(self.sync_engine.pool, "checkout", self._on_checkout)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        from sqlalchemy import event

        event.remove(self.sync_engine, "before_cursor_execute", self._on_statement)
        event.remove(self.sync_engine.pool, "checkout", self._on_checkout)
