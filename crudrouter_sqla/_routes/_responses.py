"""Documented error responses, by reference to one shared schema.

FastAPI builds a validating field (a Pydantic `TypeAdapter`) for every model in a route's
``responses``, on every route and again for each place the router is included: an app of 200
routers built some 9,000 of them for the same `ErrorResponse`, a large part of its start-up.
A response given as its content, a ``$ref`` to the ``ErrorResponse`` component, documents the
same thing and costs nothing; one route of each router keeps the model, so that the component
is in the document.
"""

from __future__ import annotations

from typing import Any

from ..errors import ErrorResponse

Responses = dict[int | str, dict[str, Any]]

_REFERENCE = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}


def by_reference(responses: Responses) -> Responses:
    """``responses`` with each ``ErrorResponse`` model written as a reference to its schema."""
    written: Responses = {}
    for status, response in responses.items():
        if response.get("model") is ErrorResponse:
            response = {key: value for key, value in response.items() if key != "model"}
            response["content"] = {"application/json": {"schema": dict(_REFERENCE)}}
        written[status] = response
    return written
