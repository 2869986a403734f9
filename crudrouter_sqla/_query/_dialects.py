"""SQL that differs between databases, as constructs compiled per dialect.

MySQL and MariaDB have no ``NULLS FIRST`` / ``NULLS LAST``; `NullsOrdered` spells the same order
with a leading ``IS NULL`` key there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


class NullsOrdered(ColumnElement[Any]):
    """An ORDER BY key: ascending with nulls last, or descending with nulls first."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("descending", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column: ColumnElement[Any], descending: bool) -> None:
        self.column = column
        self.descending = descending


@compiles(NullsOrdered)
def _standard(element: NullsOrdered, compiler: SQLCompiler, **kw: Any) -> str:
    column = element.column
    order = column.desc().nulls_first() if element.descending else column.asc().nulls_last()
    return compiler.process(order, **kw)


@compiles(NullsOrdered, "mysql")
@compiles(NullsOrdered, "mariadb")
def _mysql(element: NullsOrdered, compiler: SQLCompiler, **kw: Any) -> str:
    # MySQL sorts nulls first ascending and last descending: the opposite of this order.
    column = compiler.process(element.column, **kw)
    if element.descending:
        return f"{column} IS NULL DESC, {column} DESC"
    return f"{column} IS NULL, {column} ASC"
