"""Variant ``crud``: the heroes resource as one `CRUDRouter`."""

from typing import Annotated, Any

from fastapi import FastAPI, Query
from sqlalchemy import ColumnElement

from crudrouter_sqla import CRUDRouter, Tenancy

from ..models import Hero, HeroCreate, HeroRead, HeroUpdate, HeroWithTeam, current_team
from ..routes import CURSOR_SECRET, crud_query_language
from . import database


def age_at_least(
    age__gte: Annotated[int | None, Query(ge=0, description="Heroes at least this old.")] = None,
) -> ColumnElement[bool] | None:
    """list_filtered's filter as a custom dependency (``--crud-custom-filter``; no sort)."""
    return None if age__gte is None else Hero.age >= age__gte


def listing_options() -> dict[str, Any]:
    """How the list route filters ``age__gte=30`` and sorts ``-age`` (see `benchmarks.routes`)."""
    if crud_query_language():
        return {"filter_fields": {"age": ["gte"]}, "sort_fields": ["id", "age"]}
    return {"filters": [age_at_least]}


db = database()
app = FastAPI(lifespan=db.lifespan)
app.include_router(
    CRUDRouter(
        Hero,
        HeroRead,
        HeroCreate,
        update_schema=HeroUpdate,
        session=db.session,
        cursor_secret=CURSOR_SECRET,
        bulk_create_route=True,
        **listing_options(),
    )
)
# The same heroes with the team embedded (the get_team and list_team routes).
app.include_router(
    CRUDRouter(
        Hero,
        HeroWithTeam,
        HeroCreate,
        prefix="/heroes-with-team",
        session=db.session,
        cursor_secret=CURSOR_SECRET,
    )
)
# The heroes of the caller's team only (the get_tenant and list_tenant routes).
app.include_router(
    CRUDRouter(
        Hero,
        HeroRead,
        HeroCreate,
        prefix="/tenant/heroes",
        session=db.session,
        cursor_secret=CURSOR_SECRET,
        tenancy=Tenancy(column="team_id", current=current_team),
    )
)
