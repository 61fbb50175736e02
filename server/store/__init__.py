"""Durable storage: one interface (``Store``), two backends chosen by URL.

``sqlite:///path/to/tandem.db`` (the embedded default, aiosqlite) or
``postgresql://host:port/db?schema=name`` (asyncpg, for scale-out).
"""

from __future__ import annotations

from server.store.base import RecordsRefused, Store, StoreError, StoreUnavailable


def open_store(url: str) -> Store:
    """Return an unopened store for ``url``; ``await store.open()`` connects and migrates."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from server.store.sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        from server.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(
        f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://HOST:PORT/DB[?schema=NAME]"
    )


__all__ = ["RecordsRefused", "Store", "StoreError", "StoreUnavailable", "open_store"]
