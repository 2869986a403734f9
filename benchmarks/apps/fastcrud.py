"""Variant ``fastcrud``: the same heroes API from FastCRUD's ``crud_router``.

FastCRUD is not a dependency of the project: ``./scripts/bench`` installs it for this variant
only. It gets the same `Database` (pool and connection set-up) and the same request session as
the other variants, and serves the read schema through ``select_schema``.
"""

from fastapi import FastAPI
from fastcrud import FastCRUD, crud_router

from ..models import Hero, HeroCreate, HeroRead, HeroUpdate
from . import database

db = database()
app = FastAPI(lifespan=db.lifespan)
app.include_router(
    crud_router(
        session=db.session,
        model=Hero,
        crud=FastCRUD(Hero),
        create_schema=HeroCreate,
        update_schema=HeroUpdate,
        select_schema=HeroRead,
        path="/heroes",
        tags=["heroes"],
        included_methods=["create", "read", "read_multi", "update"],
        filter_config={"age__gte": None},
    )
)
