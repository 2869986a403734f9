"""examples/migrations: Alembic autogenerates the heroes tables and upgrades a database to them,
on SQLite and PostgreSQL, with the engine from a crudrouter_sqla `Database`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from crudrouter_sqla.core import Database
from examples import heroes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "migrations"


def alembic(config: Path, url: str, *args: str) -> str:
    env = {**os.environ, "SQLALCHEMY_URL": url}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(config), *args],
        cwd=ROOT,  # as the docs run it: from the repository root
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


async def columns(url: str) -> dict[str, set[str]]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:

            def read(sync_connection):
                inspector = inspect(sync_connection)
                return {
                    table: {c["name"] for c in inspector.get_columns(table)}
                    for table in inspector.get_table_names()
                }

            return await connection.run_sync(read)
    finally:
        await db.engine.dispose()


async def test_autogenerate_and_upgrade_head(db_url, tmp_path):
    # A copy, so the revision autogenerate writes stays out of the checkout.
    project = tmp_path / "migrations"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    config = project / "alembic.ini"

    alembic(config, db_url, "revision", "--autogenerate", "-m", "create teams and heroes")
    [revision] = list((project / "versions").glob("*.py"))
    source = revision.read_text()
    assert "op.create_table('teams'" in source or 'op.create_table("teams"' in source, source
    assert "heroes" in source and "ForeignKeyConstraint" in source, source

    alembic(config, db_url, "upgrade", "head")
    tables = await columns(db_url)
    assert {"teams", "heroes", "alembic_version"} <= tables.keys(), tables
    assert tables["heroes"] == {c.name for c in heroes.Hero.__table__.columns}
    assert tables["teams"] == {c.name for c in heroes.Team.__table__.columns}

    # The database now matches the models: nothing left to generate.
    output = alembic(config, db_url, "check")
    assert "No new upgrade operations detected" in output, output

    alembic(config, db_url, "downgrade", "base")
    assert set(await columns(db_url)) <= {"alembic_version"}


def test_the_example_ships_no_revisions():
    assert not list((EXAMPLE / "versions").glob("*.py"))
