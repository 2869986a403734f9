"""Side-by-side throughput benchmark: CRUDRouter against hand-written FastAPI code.

Run it with ``./scripts/bench``; see ``benchmarks/README.md``.
"""
