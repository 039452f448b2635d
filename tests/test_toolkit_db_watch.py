"""Specification of coursekit.db_watch: add_rows, count_rows, db_rows and watch_db (notebooks 07 and 13)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

from coursekit import CheckFailed, add_rows, app_client, count_rows, db_rows, watch_db

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(String(100))


def memory_engine():
    return create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})


def make_app(in_context: bool = False) -> FastAPI:
    """An app like 07's (app.state.sessionmaker) or, with in_context, like 13's (app.state.ctx.sessionmaker)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = memory_engine()
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        if in_context:
            app.state.ctx = SimpleNamespace(sessionmaker=maker)
        else:
            app.state.sessionmaker = maker
        app.state.engine = engine
        yield
        await engine.dispose()

    return FastAPI(lifespan=lifespan)


@pytest.mark.parametrize("in_context", [False, True], ids=["app.state.sessionmaker", "app.state.ctx.sessionmaker"])
async def test_add_rows_inserts_and_returns_the_rows_with_their_ids(in_context):
    app = make_app(in_context)
    async with app_client(app):
        ada, bob = await add_rows(app, Person(name="ada"), Person(name="bob"))
        assert (ada.id, bob.id) == (1, 2)
        assert await db_rows(app, select(Person.id, Person.name).order_by(Person.id)) == [(1, "ada"), (2, "bob")]


async def test_add_rows_inserts_all_or_nothing():
    app = make_app()
    async with app_client(app):
        await add_rows(app, Person(name="ada"))
        with pytest.raises(IntegrityError):
            await add_rows(app, Person(name="eve"), Person(name="ada"))     # the second breaks the unique name
        assert await count_rows(app, Person) == 1


@pytest.mark.parametrize("in_context", [False, True], ids=["app.state.sessionmaker", "app.state.ctx.sessionmaker"])
async def test_count_rows_counts_all_rows_or_those_matching_the_filters(in_context):
    app = make_app(in_context)
    async with app_client(app):
        ada, bob = await add_rows(app, Person(name="ada"), Person(name="bob"))
        await add_rows(app, Note(person_id=ada.id, text="a"), Note(person_id=ada.id, text="b"), Note(person_id=bob.id, text="c"))
        assert await count_rows(app, Note) == 3
        assert await count_rows(app, Note, person_id=ada.id) == 2
        assert await count_rows(app, Note, person_id=bob.id, text="a") == 0


async def test_db_rows_returns_plain_tuples_and_an_empty_list_when_nothing_matches():
    app = make_app()
    async with app_client(app):
        await add_rows(app, Person(name="ada"))
        rows = await db_rows(app, select(Person.name))
        assert rows == [("ada",)] and type(rows[0]) is tuple
        assert await db_rows(app, select(Person.name).where(Person.name == "nobody")) == []


@pytest.mark.parametrize("helper", ["add_rows", "count_rows", "db_rows"])
async def test_the_helpers_fail_readably_before_the_app_has_started(helper):
    app = make_app()                                   # no app_client: the lifespan has not run
    calls = {"add_rows": lambda: add_rows(app, Person(name="ada")),
             "count_rows": lambda: count_rows(app, Person),
             "db_rows": lambda: db_rows(app, select(Person.id))}
    with pytest.raises(CheckFailed, match="no database session factory yet"):
        await calls[helper]()


async def test_a_database_that_hangs_fails_after_the_time_limit(monkeypatch):
    import coursekit.db_watch as db_watch

    monkeypatch.setattr(db_watch, "DB_SECONDS", 0.05)
    app = FastAPI()
    app.state.ctx = SimpleNamespace(sessionmaker=_HangingMaker())
    with pytest.raises(CheckFailed, match="Timed out after 0.05 s waiting for counting people"):
        await count_rows(app, Person)
    with pytest.raises(CheckFailed, match="Timed out after 0.05 s waiting for inserting test rows"):
        await add_rows(app, Person(name="ada"))


class _HangingMaker:
    """A sessionmaker whose sessions never open."""

    def __call__(self):
        return self

    def begin(self):
        return self

    async def __aenter__(self):
        await asyncio.Event().wait()

    async def __aexit__(self, *exc_info):
        return False


async def test_watch_db_records_the_statements_and_checkouts_inside_the_block_only():
    engine = memory_engine()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        with watch_db(engine) as spy:
            async with maker.begin() as session:
                session.add(Person(name="ada"))
            async with maker() as session:
                await session.scalars(select(Person).where(Person.name == "ada"))
        assert len(spy.statements) == 2
        assert spy.statements[0].startswith("INSERT INTO people")
        assert spy.statements[1].startswith("SELECT people.id, people.name FROM people WHERE")
        assert "\n" not in spy.statements[1] and "  " not in spy.statements[1]
        assert spy.checkouts == 2
        async with maker() as session:               # after the block: nothing more is recorded
            await session.scalars(select(Person))
        assert len(spy.statements) == 2 and spy.checkouts == 2
    finally:
        await engine.dispose()


async def test_watch_db_stops_listening_when_the_block_raises():
    engine = memory_engine()
    try:
        with pytest.raises(RuntimeError):
            with watch_db(engine) as spy:
                raise RuntimeError("boom")
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
        assert spy.statements == [] and spy.checkouts == 0
    finally:
        await engine.dispose()
