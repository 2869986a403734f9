"""Hooks the routes could not call are refused when the router is built, naming the hook and
the signature the routes call it with; every way of writing a callable hook still works."""

import functools
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException

from crudrouter_sqla import ConfigurationError, CRUDRouter, Hooks
from tests.models import Hero, HeroCreate, HeroRead


class SyncCreate(Hooks):
    def before_create(self, session, values):  # type: ignore[override]
        values["age"] = 1


class TooFewCreate(Hooks):
    async def before_create(self, values):  # type: ignore[override]
        values["age"] = 1


class UpdateWithoutId(Hooks):
    async def before_update(self, session, values):  # type: ignore[override]
        pass


class TooManyDelete(Hooks):
    async def after_delete(self, session, item_id, reason):  # type: ignore[override]
        pass


class NotAMethod(Hooks):
    after_create = None  # type: ignore[assignment]


class SyncUpdateAfter(Hooks):
    def after_update(self, session, item):  # type: ignore[override]
        pass


class InheritsTheMistake(TooFewCreate):
    async def after_create(self, session, item):
        pass


@pytest.mark.parametrize(
    ("hooks", "problem", "expected"),
    [
        (
            SyncCreate,
            "SyncCreate.before_create is not async",
            "async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None",
        ),
        (
            TooFewCreate,
            "TooFewCreate.before_create takes (self, values)",
            "async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None",
        ),
        (
            UpdateWithoutId,
            "UpdateWithoutId.before_update takes (self, session, values)",
            "async def before_update(self, session: AsyncSession, item_id: Any, "
            "values: dict[str, Any]) -> None",
        ),
        (
            TooManyDelete,
            "TooManyDelete.after_delete takes (self, session, item_id, reason)",
            "async def after_delete(self, session: AsyncSession, item_id: Any) -> None",
        ),
        (
            NotAMethod,
            "NotAMethod.after_create is None, not a method",
            "async def after_create(self, session: AsyncSession, item: BaseModel) -> None",
        ),
        (
            SyncUpdateAfter,
            "SyncUpdateAfter.after_update is not async",
            "async def after_update(self, session: AsyncSession, item: BaseModel) -> None",
        ),
        (
            InheritsTheMistake,
            "InheritsTheMistake.before_create takes (self, values)",
            "async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None",
        ),
    ],
    ids=[
        "sync",
        "too-few-arguments",
        "update-without-item-id",
        "too-many-arguments",
        "not-callable",
        "sync-after",
        "inherited",
    ],
)
def test_a_hook_the_routes_cannot_call_is_refused_at_build(hooks, problem, expected):
    with pytest.raises(ConfigurationError) as raised:
        CRUDRouter(Hero, HeroRead, HeroCreate, hooks=hooks)
    message = str(raised.value)
    assert problem in message, message
    assert message.endswith(f"the routes call it as {expected}"), message


def test_only_overridden_hooks_are_checked():
    class Fine(Hooks):
        pass

    CRUDRouter(Hero, HeroRead, HeroCreate, hooks=Fine)
    CRUDRouter(Hero, HeroRead, HeroCreate, hooks=None)


def logged(method):
    """A decorator that keeps the hook a coroutine function."""

    @functools.wraps(method)
    async def wrapper(*args, **kwargs):
        return await method(*args, **kwargs)

    return wrapper


def returns_a_coroutine(method):
    """A sync wrapper of an async hook: ``functools.wraps`` lets the check see through it."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        return method(*args, **kwargs)

    return wrapper


class EveryCallableShape(Hooks):
    """Names, defaults, ``*args``, static and class methods and decorators are all fine."""

    calls: list[str] = []

    async def before_create(self, s, vals, extra=None):  # type: ignore[override]
        vals["age"] = 30
        self.calls.append("before_create")

    @staticmethod
    async def after_create(*args: Any) -> None:
        EveryCallableShape.calls.append(f"after_create {len(args)}")

    @classmethod
    async def before_update(cls, session, item_id, values, **options):  # type: ignore[override]
        if values.get("name") == "Refused":
            raise HTTPException(status_code=403, detail="That name is refused")
        cls.calls.append(f"before_update {item_id}")

    @logged
    async def after_update(self, session, item):
        self.calls.append(f"after_update {item.name}")

    @returns_a_coroutine
    async def before_delete(self, session, item_id):
        self.calls.append(f"before_delete {item_id}")

    async def after_delete(self, *args):
        self.calls.append(f"after_delete {args[1]}")


async def test_hooks_of_every_callable_shape_run(db, client_for):
    EveryCallableShape.calls = []
    app = FastAPI(lifespan=db.lifespan)
    router = CRUDRouter(Hero, HeroRead, HeroCreate, hooks=EveryCallableShape, session=db.session)
    app.include_router(router)
    async with client_for(app) as client:
        r = await client.post("/heroes", json={"name": "A", "secret_name": "a"})
        assert r.status_code == 201, r.text
        assert r.json()["age"] == 30
        hero = r.json()["id"]
        r = await client.patch(f"/heroes/{hero}", json={"name": "Refused"})
        assert (r.status_code, r.json()) == (403, {"detail": "That name is refused"})
        r = await client.patch(f"/heroes/{hero}", json={"name": "B"})
        assert r.status_code == 200, r.text
        r = await client.delete(f"/heroes/{hero}")
        assert r.status_code == 204, r.text
    assert EveryCallableShape.calls == [
        "before_create",
        "after_create 2",
        f"before_update {hero}",
        "after_update B",
        f"before_delete {hero}",
        f"after_delete {hero}",
    ]
