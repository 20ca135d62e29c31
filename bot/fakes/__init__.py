"""In-memory fakes of every port, one module per port family (as `bot.ports`), for
tests and offline runs; `in_memory_repositories()` bundles a fresh set. Strict like the
SQL versions: a stale write is refused, a rolled-back transaction leaves nothing behind.
"""
