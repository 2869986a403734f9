"""Nothing per-process changes an answer: a cursor made by one process works in another."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from crudrouter_sqla.core import Database
from examples import heroes

ROOT = Path(__file__).resolve().parent.parent

# Another worker (or the same app before a restart): starts the heroes app on the same
# database and prints the cursor of the first page.
OTHER_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from asgi_lifespan import LifespanManager
    from crudrouter_sqla.core import Database
    from examples import heroes

    async def main():
        app = heroes.create_app(Database(sys.argv[1]))
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
                r = await client.get("/heroes", params={"limit": 4, "sort": "-age"})
                assert r.status_code == 200, r.text
                print(r.json()["next_cursor"])

    asyncio.run(main())
    """
)


def cursor_from_another_process(url: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def test_a_cursor_from_another_process_continues_the_list(tmp_path, client_for):
    url = f"sqlite+aiosqlite:///{tmp_path / 'heroes.db'}"
    cursor = cursor_from_another_process(url)
    async with client_for(heroes.create_app(Database(url))) as client:
        everyone = await client.get("/heroes", params={"limit": 100, "sort": "-age"})
        r = await client.get("/heroes", params={"limit": 4, "sort": "-age", "cursor": cursor})
        assert r.status_code == 200, r.text
        expected = [hero["id"] for hero in everyone.json()["items"][4:8]]
        assert [hero["id"] for hero in r.json()["items"]] == expected
        # An altered cursor is still refused.
        tampered = cursor[:-3] + ("x" if cursor[-3] != "x" else "y") + cursor[-2:]
        r = await client.get("/heroes", params={"limit": 4, "sort": "-age", "cursor": tampered})
        assert r.status_code == 404, r.text


def test_a_cursor_secret_is_shared_by_every_codec():
    from crudrouter_sqla._query import CursorCodec

    made = CursorCodec("heroes", "s3cret").encode("-age", [30, 7], [int, int])
    assert CursorCodec("heroes", b"s3cret").decode(made, "-age", [int, int]) == [30, 7]
    unsigned = CursorCodec("heroes").encode("-age", [30, 7], [int, int])
    assert unsigned != made
    assert CursorCodec("heroes").decode(unsigned, "-age", [int, int]) == [30, 7]
