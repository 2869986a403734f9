"""The export benchmark's app: ``GET /rows/export`` (the router's) and ``GET /hand/export``, a
hand-written `StreamingResponse` over ``stream_scalars``, on the same table and database."""

from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crudrouter_sqla import CRUDRouter

from . import database

ROWS = 1_000_000


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "export_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int]
    active: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class RowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    amount: int
    active: bool
    note: str | None
    created_at: datetime


db = database()
app = FastAPI(lifespan=db.lifespan)
app.include_router(
    CRUDRouter(Row, RowRead, prefix="/rows", session=db.session, export_route=True,
               max_export_rows=ROWS)
)  # fmt: skip


@app.get("/hand/export")
async def hand_export() -> StreamingResponse:
    """What one writes by hand: the rows streamed from a server-side cursor, one line each."""

    async def lines() -> AsyncIterator[str]:
        async with db.open_session() as session:
            rows = await session.stream_scalars(
                select(Row).order_by(Row.id).execution_options(yield_per=1000)
            )
            async for row in rows:
                yield RowRead.model_validate(row).model_dump_json() + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
