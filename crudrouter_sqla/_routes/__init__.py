"""The generated routes and the request plumbing they share.

Entry points: `Resource` (the parts a router assembles), the endpoint factories `make_list`,
`make_get`, `make_create`, `make_replace`, `make_update` and `make_delete`, `RouteList` (routes
declared by hand replace generated ones; `CRUDRoute` lists every method of a path in a 405),
`Names` (operation ids and schema names), `limited_route_class` (body limits, strict JSON) and
`session_dependency` (the ``session`` option, checked).
"""

from ._aggregate import aggregate_models, make_aggregate
from ._bulk import BulkCount, make_bulk_create, make_bulk_delete, make_bulk_update
from ._documented import ItemResponse, SharedBody, answering, documented, sharing_bodies
from ._export import DEFAULT_MAX_EXPORT_ROWS, ExportResponse, export_responses, make_export
from ._items import (
    make_create,
    make_delete,
    make_get,
    make_replace,
    make_restore,
    make_update,
)
from ._limits import DEFAULT_MAX_BODY_DEPTH, DEFAULT_MAX_BODY_SIZE, limited_route_class
from ._list import make_list
from ._names import Names, snake
from ._params import RESERVED, item_path
from ._purge import make_purge
from ._query_params import VALIDATION_ERROR, QueryAllowlist, query_of
from ._resource import Endpoint, Resource
from ._route_list import CRUDRoute, RouteList
from ._serialize import Serializer, page_model
from ._session import session_dependency
from ._stamp import stamp_of
from ._transaction import own_transaction

__all__ = [
    "DEFAULT_MAX_EXPORT_ROWS",
    "DEFAULT_MAX_BODY_DEPTH",
    "DEFAULT_MAX_BODY_SIZE",
    "BulkCount",
    "RESERVED",
    "VALIDATION_ERROR",
    "CRUDRoute",
    "Endpoint",
    "ItemResponse",
    "ExportResponse",
    "Names",
    "QueryAllowlist",
    "Resource",
    "RouteList",
    "Serializer",
    "SharedBody",
    "aggregate_models",
    "answering",
    "documented",
    "export_responses",
    "item_path",
    "limited_route_class",
    "make_aggregate",
    "make_bulk_create",
    "make_bulk_delete",
    "make_bulk_update",
    "make_create",
    "make_delete",
    "make_export",
    "make_get",
    "make_list",
    "make_purge",
    "make_replace",
    "make_restore",
    "make_update",
    "own_transaction",
    "page_model",
    "query_of",
    "session_dependency",
    "sharing_bodies",
    "snake",
    "stamp_of",
]
