"""Start-up: how long an app with many generated routers takes to build and to serve its first
``/openapi.json``.

    python -m benchmarks.startup                  # 200 models, crud and handwritten
    python -m benchmarks.startup --models 50 --runs 5

Each run is a fresh Python process, so nothing is cached between runs. It defines ``--models``
ORM models (six columns each: an integer key, a unique name, text, an optional integer, a flag
and a timestamp) with their read schemas, then times, separately:

- building the app: one ``CRUDRouter`` per model (``crud``), or the same five endpoints per
  model written by hand with ``response_model`` (``handwritten``), included in one `FastAPI`;
- the first ``GET /openapi.json`` through the ASGI app (FastAPI builds the document then).

The variants take turns (crud, handwritten, crud, ...), so a machine that speeds up or slows
down during the runs weighs on both alike. The report gives the median over ``--runs`` of
each, the total, the cost per router, the resident memory after the first document, and the
ratios of crud to handwritten.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from .server import ROOT

VARIANTS = ("crud", "handwritten")


def define_models(count: int) -> list[tuple[Any, Any]]:
    """``count`` ORM classes on one metadata, each with its read schema."""
    from datetime import datetime

    from pydantic import BaseModel, ConfigDict, create_model
    from sqlalchemy import String
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    pairs = []
    for i in range(count):
        annotations = {
            "id": Mapped[int],
            "name": Mapped[str],
            "notes": Mapped[str],
            "rank": Mapped[int | None],
            "active": Mapped[bool],
            "created_at": Mapped[datetime],
        }
        namespace = {
            "__tablename__": f"things_{i}",
            "__annotations__": annotations,
            "id": mapped_column(primary_key=True),
            "name": mapped_column(String(100), unique=True),
            "notes": mapped_column(String(500), default=""),
            "rank": mapped_column(default=None),
            "active": mapped_column(default=True),
            "created_at": mapped_column(default=datetime.now),
        }
        model = type(f"Thing{i}", (Base,), namespace)
        read = create_model(
            f"Thing{i}Read",
            __config__=ConfigDict(from_attributes=True),
            id=(int, ...),
            name=(str, ...),
            notes=(str, ...),
            rank=(int | None, None),
            active=(bool, ...),
            created_at=(datetime, ...),
        )
        assert issubclass(read, BaseModel)
        pairs.append((model, read))
    return pairs


def build_crud(pairs: list[tuple[Any, Any]], db: Any) -> Any:
    from fastapi import FastAPI

    from crudrouter_sqla import CRUDRouter

    app = FastAPI(lifespan=db.lifespan)
    for model, read in pairs:
        app.include_router(CRUDRouter(model, read, session=db.session))
    return app


def build_handwritten(pairs: list[tuple[Any, Any]], db: Any) -> Any:
    """Five endpoints per model, as `benchmarks.apps.handwritten` writes them."""
    from typing import Annotated

    from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
    from pydantic import create_model
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import AsyncSession

    app = FastAPI(lifespan=db.lifespan)
    session_dep = Annotated[AsyncSession, Depends(db.session)]
    for model, read in pairs:
        name = model.__tablename__
        fields = {k: (v.annotation, v.default) for k, v in read.model_fields.items() if k != "id"}
        create = create_model(f"{read.__name__}Create", **fields)
        update = create_model(
            f"{read.__name__}Update", **{k: (v[0] | None, None) for k, v in fields.items()}
        )
        page = create_model(
            f"{read.__name__}Page", items=(list[read], ...), total=(int, ...), limit=(int, ...)
        )
        router = APIRouter(prefix=f"/{name}", tags=[name])

        def add(
            router: APIRouter = router,
            model: Any = model,
            read: Any = read,
            page: Any = page,
            create: Any = create,
            update: Any = update,
        ) -> None:
            @router.get("", response_model=page)
            async def list_items(
                session: session_dep, limit: Annotated[int, Query(ge=1, le=100)] = 20
            ) -> Any:
                total = await session.scalar(select(func.count()).select_from(model))
                rows = (await session.scalars(select(model).limit(limit))).all()
                return {"items": rows, "total": total, "limit": limit}

            @router.get("/{item_id}", response_model=read)
            async def get_item(item_id: int, session: session_dep) -> Any:
                item = await session.get(model, item_id)
                if item is None:
                    raise HTTPException(404)
                return item

            @router.post("", response_model=read, status_code=201)
            async def create_item(body: create, session: session_dep) -> Any:
                item = model(**body.model_dump())
                session.add(item)
                await session.flush()
                return item

            @router.patch("/{item_id}", response_model=read)
            async def update_item(item_id: int, body: update, session: session_dep) -> Any:
                item = await session.get(model, item_id)
                if item is None:
                    raise HTTPException(404)
                for key, value in body.model_dump(exclude_unset=True).items():
                    setattr(item, key, value)
                await session.flush()
                return item

            @router.delete("/{item_id}", status_code=204)
            async def delete_item(item_id: int, session: session_dep) -> None:
                item = await session.get(model, item_id)
                if item is None:
                    raise HTTPException(404)
                await session.delete(item)

        add()
        app.include_router(router)
    return app


def one_run(variant: str, count: int) -> dict[str, float]:
    """Time one start-up in this process (call it in a fresh one)."""
    import asyncio

    started = time.perf_counter()
    import fastapi  # noqa: F401
    import httpx

    import crudrouter_sqla  # noqa: F401
    from crudrouter_sqla.core import Database

    imported = time.perf_counter()
    pairs = define_models(count)
    defined = time.perf_counter()
    db = Database("sqlite+aiosqlite://")
    app = (build_crud if variant == "crud" else build_handwritten)(pairs, db)
    built = time.perf_counter()

    async def first_openapi() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/openapi.json")
            assert r.status_code == 200, r.text
            return len(r.json()["paths"])

    paths = asyncio.run(first_openapi())
    served = time.perf_counter()
    return {
        "rss_mib": _rss_mib(),
        "import_s": imported - started,
        "models_s": defined - imported,
        "build_s": built - defined,
        "openapi_s": served - built,
        "total_s": served - defined,
        "paths": paths,
    }


def _rss_mib() -> float:
    """The process's resident memory now, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(variant: str, count: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.startup", "--one", variant, "--models", str(count)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one, args.models)))
        return
    lines = [
        f"Start-up with {args.models} models, median of {args.runs} fresh processes per "
        "variant, the variants taking turns (seconds):",
        "",
        "| variant | import | define models | build app | first /openapi.json "
        "| build + first openapi | per router | RSS after | paths |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    variants = args.variants.split(",")
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    for _ in range(args.runs):
        for variant in variants:
            runs[variant].append(run(variant, args.models))
    totals = {}
    for variant in variants:

        def med(key: str, runs: list[dict[str, float]] = runs[variant]) -> float:
            return statistics.median(r[key] for r in runs)

        totals[variant] = (med("total_s"), med("rss_mib"))
        per = med("total_s") / args.models * 1000
        lines.append(
            f"| {variant} | {med('import_s'):.2f} | {med('models_s'):.2f} | {med('build_s'):.2f} "
            f"| {med('openapi_s'):.2f} | **{med('total_s'):.2f}** | {per:.1f} ms "
            f"| {med('rss_mib'):.0f} MiB | {med('paths'):.0f} |"
        )
    if "crud" in totals and "handwritten" in totals:
        time_ratio = totals["crud"][0] / totals["handwritten"][0]
        rss_ratio = totals["crud"][1] / totals["handwritten"][1]
        lines += ["", f"crud / handwritten: {time_ratio:.2f}x the time, {rss_ratio:.2f}x the RSS"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
