"""Storage backends behind one contract (see base.py)."""

from sentiero.stores.base import Store, StoreError, StoreLimits, WindowRef

__all__ = ["FileStore", "MemoryStore", "RedisStore", "SQLStore", "Store", "StoreError",
           "StoreLimits", "WindowRef", "open_store"]


def open_store(url: str) -> Store:
    """A store for a URL: sqlite:///path, postgresql://..., mysql://..., redis://...,
    file:///path or memory://."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from sentiero.stores.memory import MemoryStore

        return MemoryStore()
    if scheme.startswith(("sqlite", "postgres", "mysql", "mariadb")):
        from sentiero.stores.sql import SQLStore

        return SQLStore(url)
    if scheme in ("redis", "rediss"):
        from sentiero.stores.redis import RedisStore

        return RedisStore(url)
    if scheme == "file":
        from sentiero.stores.files import FileStore

        return FileStore(url)
    raise ValueError(
        f"unknown store URL {without_password(url)!r}: use sqlite:///path, "
        "postgresql://..., mysql://..., redis://..., file:///path or memory://"
    )


def without_password(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    import re

    return re.sub(r"(?<=://)([^/@:]*):[^/@]*@", r"\1:***@", url)


_BACKENDS = {
    "MemoryStore": "sentiero.stores.memory",
    "SQLStore": "sentiero.stores.sql",
    "RedisStore": "sentiero.stores.redis",
    "FileStore": "sentiero.stores.files",
}


def __getattr__(name: str) -> type[Store]:
    """``from sentiero.stores import SQLStore`` without importing every backend's client."""
    module = _BACKENDS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
