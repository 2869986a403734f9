"""The three variants. Each module builds ``app`` on the database named by ``BENCH_DATABASE_URL``.

All three build their engine with ``Database(url)`` from `crudrouter_sqla.core`, so pooling and
connection set-up are identical; they differ only in how the endpoints are written.
"""

import os

from crudrouter_sqla.core import Database

URL_VARIABLE = "BENCH_DATABASE_URL"
POOL_VARIABLE = "BENCH_POOL_SIZE"


def database() -> Database:
    """The `Database` of the URL in ``BENCH_DATABASE_URL`` (no silent default: it must be set).

    ``BENCH_POOL_SIZE`` (``--pool-size``), when set, gives every variant a fixed pool.
    """
    url = os.environ.get(URL_VARIABLE)
    if not url:
        raise RuntimeError(f"set {URL_VARIABLE} to the database URL to benchmark")
    pool = os.environ.get(POOL_VARIABLE)
    if pool:
        return Database(url, pool_size=int(pool), max_overflow=0)
    return Database(url)
