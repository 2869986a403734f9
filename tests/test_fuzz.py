"""Fuzzing every route and parameter from the OpenAPI document, on SQLite and PostgreSQL.

Schemathesis generates valid and invalid requests for each operation the app documents and
sends them to the ASGI app in process (its own event loop thread; the app's lifespan runs
there, creating and seeding the tables). Every response must:

- not be a 5xx (``not_a_server_error``);
- carry a status code the operation documents (``status_code_conformance``) and a documented
  content type (``content_type_conformance``);
- have a body that validates against the documented schema (``response_schema_conformance``).

``?fields=`` returns items holding only the fields asked for, which the documented item schema
(every field required) rejects. For those responses the body is checked against the documented
page schema with the item schema narrowed to the fields asked for: exactly those keys, each
valid under its documented property schema.

The always-on run (`test_fuzz_every_route`) sends over 400 requests per database to the
heroes app. The full run (`test_fuzz_full`, marker ``fuzz``) sends over 2,000 per database to
the heroes app, every query parameter of every route among them, and over 600 to the example
app; it takes about a minute per database, so it runs only in CI (``CI=true``, which .ci/run
sets) or when ``-m`` names the marker::

    CI=true ./scripts/test                   # everything, with the full fuzz run
    ./scripts/test -m "fuzz or not fuzz"     # the same
    .venv/bin/pytest -m fuzz                 # the full fuzz run alone

Runs are derandomized, so CI sends the same requests every time; set ``CRUDROUTER_FUZZ_SEED``
to an integer to explore other requests.

Schemathesis runs the app in its own event loop thread, so these tests build their `Database`
from ``db_url`` there rather than taking the ``db`` fixture, whose engine belongs to the test's
loop, and shut the lifespan down (disposing the engine) before they end.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hypothesis
import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla.core import Database

ALWAYS_ON_MIN_REQUESTS = 400
"""The fewest requests the always-on run sends on each database."""

FULL_MIN_REQUESTS = 2_000
"""The fewest requests the full run sends to the heroes app on each database."""

PARAMETER_EXAMPLES = 3
"""In the full run, examples per query parameter and generation mode with the parameter sent."""

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


# ----------------------------------------------------------------------------- the apps


def heroes_fuzz_app(db: Database) -> FastAPI:
    """The test heroes app (int, str and UUID keys; unique, FK and check constraints), plus a
    hero router with every filter operator, search, and a team router read through the ORM."""
    from tests.models import (
        Base,
        Gadget,
        GadgetRead,
        Hero,
        HeroCreate,
        HeroRead,
        HeroUpdate,
        Tag,
        TagRead,
        Team,
        TeamRead,
        TeamWithCount,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with db.new_lifespan(create_all=Base.metadata)(app):
            async with db.open_session() as session:
                teams = [Team(name=f"Team {i}", headquarters=f"HQ {i}") for i in range(3)]
                session.add_all(teams)
                await session.flush()
                session.add_all(
                    Hero(
                        name=f"Hero {i}",
                        secret_name=f"Secret {i}",
                        age=None if i % 4 == 0 else 20 + i,
                        team_id=None if i % 3 == 0 else teams[i % 3].id,
                    )
                    for i in range(12)
                )
                session.add_all(Tag(code=code, label=code.upper()) for code in ("a", "b", "0"))
                session.add_all(Gadget(name=f"Gadget {i}") for i in range(3))
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(
        CRUDRouter(Hero, HeroRead, HeroCreate, update_schema=HeroUpdate, session=db.session)
    )
    app.include_router(CRUDRouter(Tag, TagRead, session=db.session, filter_fields=["label"]))
    app.include_router(CRUDRouter(Gadget, GadgetRead, session=db.session, filter_fields=["id"]))
    app.include_router(
        CRUDRouter(
            Hero,
            HeroRead,
            HeroCreate,
            update_schema=HeroUpdate,
            prefix="/hero-search",
            session=db.session,
            filter_fields=["id", "name", "secret_name", "age", "team_id"],
            search_fields=["name", "secret_name"],
            max_limit=50,
        )
    )
    app.include_router(
        CRUDRouter(
            Team,
            TeamWithCount,
            TeamRead,
            prefix="/team-counts",
            session=db.session,
            filter_fields={"name": ["eq", "in", "ilike"], "headquarters": "*"},
            search_fields=["name"],
            sort_fields=["name", "headquarters"],
            count="none",
        )
    )
    return app


def example_fuzz_app(db: Database) -> FastAPI:
    """The example app (tables created and seeded by its lifespan), plus a filtered router."""
    from examples.heroes import Hero, HeroCreate, HeroRead, create_app

    app = create_app(db)
    app.include_router(
        CRUDRouter(
            Hero,
            HeroRead,
            HeroCreate,
            prefix="/hero-search",
            session=db.session,
            filter_fields=["id", "name", "secret_identity", "age", "team_id"],
            search_fields=["name", "secret_identity"],
        )
    )
    return app


APPS: dict[str, Callable[[Database], FastAPI]] = {
    "heroes": heroes_fuzz_app,
    "example": example_fuzz_app,
}


# ----------------------------------------------------------------------------- checking


def _sent_query(response: Any) -> dict[str, list[str]]:
    """The query string as it went over the wire (a generated value may serialize to nothing)."""
    query = urlsplit(response.request.url).query
    return parse_qs(query, keep_blank_values=True)


def _fields_asked(query: dict[str, list[str]]) -> tuple[str, ...] | None:
    """The ``fields`` a request asked for, read as the list route reads them (the last one)."""
    if "fields" not in query:
        return None
    value = query["fields"][-1]
    return tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))


class SubsetValidators:
    """Validators of ``?fields=`` pages: the documented page schema, its item schema narrowed."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._cache: dict[tuple[str, tuple[str, ...]], Any] = {}

    def validator(self, case: Any, fields: tuple[str, ...]) -> Any:
        key = (case.operation.label, fields)
        if key not in self._cache:
            path, method = case.operation.path, case.operation.method.lower()
            operation = self.document["paths"][path][method]
            page_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]
            schemas = copy.deepcopy(self.document["components"]["schemas"])
            page = schemas[page_ref["$ref"].rsplit("/", 1)[1]]
            item = schemas[page["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]
            assert set(fields) <= set(item["properties"]), (fields, item)
            schemas["_Subset"] = {
                "type": "object",
                "properties": {name: item["properties"][name] for name in fields},
                "required": list(fields),
                "additionalProperties": False,
            }
            page["properties"]["items"]["items"] = {"$ref": "#/components/schemas/_Subset"}
            root = {"$ref": page_ref["$ref"], "components": {"schemas": schemas}}
            self._cache[key] = jsonschema_rs.Draft202012Validator(root)
        return self._cache[key]

    def check(self, case: Any, response: Any, fields: tuple[str, ...]) -> None:
        if response.status_code != 200:
            return
        body = response.json()
        errors = [e.message for e in self.validator(case, fields).iter_errors(body)]
        assert not errors, (
            f"?fields={','.join(fields)} page does not fit the documented schema narrowed to "
            f"those fields: {errors[:3]}\n{response.text[:500]}"
        )


# ----------------------------------------------------------------------------- running


@dataclass
class FuzzRun:
    """Sends generated cases to the app, collecting counts and failures."""

    app: FastAPI
    document: dict[str, Any]
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    params_seen: dict[str, set[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.subsets = SubsetValidators(self.document)
        self.operations = [
            (path, method)
            for path, item in self.document["paths"].items()
            for method in item
            if method in ("get", "put", "post", "patch", "delete")
        ]

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def every_operation(self, examples: int) -> None:
        """``examples`` valid and ``examples`` invalid requests for each operation."""
        schema = schemathesis.openapi.from_dict(self.document)
        for path, method in self.operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                self._send(schema[path][method.upper()], mode, examples)

    def every_query_parameter(self, examples: int) -> None:
        """For each query parameter, requests that always carry it (as if it were required).

        Hypothesis leaves optional parameters out as often as not, so on a list route with
        dozens of filters some would go untested by the plain run.
        """
        for path, method in self.operations:
            operation = self.document["paths"][path][method]
            parameters = operation.get("parameters", [])
            for index, parameter in enumerate(parameters):
                if parameter["in"] != "query":
                    continue
                required = [*parameters]
                required[index] = {**parameter, "required": True}
                variant = {
                    **self.document,
                    "paths": {path: {method: {**operation, "parameters": required}}},
                }
                # Valid values only: invalid ones are a 422 from FastAPI's own validation, and
                # Schemathesis spends long building negative strategies for each variant.
                schema = schemathesis.openapi.from_dict(variant)
                self._send(schema[path][method.upper()], GenerationMode.POSITIVE, examples)

    def _send(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        seed = os.environ.get("CRUDROUTER_FUZZ_SEED")

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=seed is None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Any) -> None:
            response = case.call(app=self.app)
            self.requests[operation.label] += 1
            self.statuses[response.status_code] += 1
            query = _sent_query(response)
            self.params_seen.setdefault(operation.label, set()).update(query)
            fields = _fields_asked(query)
            checks = CHECKS if fields is not None else [*CHECKS, response_schema_conformance]
            case.validate_response(response, checks=checks)
            if fields is not None:
                self.subsets.check(case, response, fields)

        if seed is not None:
            send = hypothesis.seed(int(seed))(send)
        try:
            send()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a Base one
            self.failures.append(f"{operation.label} ({mode.value}):\n{exc}")


def _fuzz(db_url: str, app_name: str, min_requests: int, every_parameter: bool = False) -> FuzzRun:
    db = Database(db_url)
    app = APPS[app_name](db)
    try:
        # Loading the document starts the app's lifespan in schemathesis' event loop thread.
        document = schemathesis.openapi.from_asgi("/openapi.json", app).raw_schema
        with schemathesis_asgi.get_client(app) as client:
            r = client.get("/heroes", params={"count": "exact"})
            assert r.status_code == 200, f"the lifespan did not create or seed tables: {r.text}"
            assert r.json()["total"] >= 12, r.text
        fuzz = FuzzRun(app, document)
        if every_parameter:
            fuzz.every_query_parameter(PARAMETER_EXAMPLES)
        # Two modes per operation; a little over, as Hypothesis does not repeat a request.
        left = max(min_requests - fuzz.total, 0) * 11 // 10
        fuzz.every_operation(max(-(-left // (2 * len(fuzz.operations))), 2))
    finally:
        # Runs the lifespan's exit (disposing the engine) in the loop that opened its connections.
        schemathesis_asgi.shutdown_lifespans()
    assert db.engine.pool.checkedout() == 0
    _report(fuzz, db_url, app_name)
    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert len(fuzz.requests) == len(fuzz.operations), "some operations were never called"
    assert fuzz.total >= min_requests, fuzz.requests
    # The lifespan ran: the tables exist, seeded rows were read and new ones written.
    assert fuzz.statuses[200] > 0 and fuzz.statuses[201] > 0, fuzz.statuses
    if every_parameter:
        for path, method in fuzz.operations:
            label = f"{method.upper()} {path}"
            parameters = document["paths"][path][method].get("parameters", [])
            declared = {p["name"] for p in parameters if p["in"] == "query"}
            missing = declared - fuzz.params_seen.get(label, set())
            assert not missing, f"{label}: query parameters never sent: {sorted(missing)}"
    return fuzz


def _report(fuzz: FuzzRun, db_url: str, app_name: str) -> None:
    backend = db_url.split("+", 1)[0]
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(fuzz.statuses.items()))
    print(f"\nfuzz {app_name} on {backend}: {fuzz.total} requests ({codes})")


def test_fuzz_every_route(db_url: str) -> None:
    """The always-on run: a few valid and invalid requests for every operation."""
    _fuzz(db_url, "heroes", ALWAYS_ON_MIN_REQUESTS)


def _full_run_selected(config: pytest.Config) -> bool:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return in_ci or "fuzz" in (config.option.markexpr or "")


@pytest.mark.fuzz
@pytest.mark.parametrize(
    ("app_name", "min_requests"), [("heroes", FULL_MIN_REQUESTS), ("example", 600)]
)
def test_fuzz_full(
    db_url: str, app_name: str, min_requests: int, request: pytest.FixtureRequest
) -> None:
    """2,000+ requests per database on the heroes app, every query parameter of every route
    sent; and the example app."""
    if not _full_run_selected(request.config):
        pytest.skip("the full fuzz run needs -m fuzz, or CI=true")
    _fuzz(db_url, app_name, min_requests, every_parameter=True)


async def test_undecodable_body_is_a_documented_status(db, client_for):
    from tests.apps import heroes_app

    app = heroes_app(db)
    documented = app.openapi()["paths"]["/heroes"]["post"]["responses"]
    async with client_for(app) as client:
        headers = {"content-type": "application/json"}
        r = await client.post("/heroes", content=b'{"name": "\xff"}', headers=headers)
    assert str(r.status_code) in documented, (r.status_code, r.text, sorted(documented))
