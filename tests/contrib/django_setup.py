"""Configure Django with tests/contrib/django_settings.py, once per process (the test process
and the worker processes of the concurrency contract)."""

from __future__ import annotations


def configure() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    from tests.contrib import django_settings

    settings.configure(**{k: getattr(django_settings, k) for k in dir(django_settings)
                          if k.isupper()})
    django.setup()


def django_store(alias: str):  # type: ignore[no-untyped-def]
    """A DjangoStore on ``alias``; picklable by name, for spawned worker processes."""
    configure()
    from sentiero.contrib.django.store import DjangoStore

    return DjangoStore(using=alias)


_lock = __import__("threading").Lock()
_templates: dict[str, str] = {}


def _register(alias: str, config: dict) -> None:  # type: ignore[type-arg]
    from django.db import connections

    # configure_settings() fills in the defaults (and insists on a "default" key)
    connections.settings[alias] = connections.configure_settings({"default": config})["default"]


def _migrate(alias: str) -> None:
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", "sentiero", database=alias, verbosity=0, interactive=False)
    connections[alias].close()


def _template(vendor: str, folder: str) -> str:
    """A migrated database to copy from, made once per process: a SQLite file, or a
    PostgreSQL database (dropped when the process exits)."""
    import atexit
    import os
    import uuid

    with _lock:
        if vendor in _templates:
            return _templates[vendor]
        alias = f"template_{vendor}"
        if vendor == "sqlite":
            name = os.path.join(folder, "template.sqlite3")
            _register(alias, {"ENGINE": "django.db.backends.sqlite3", "NAME": name})
        else:
            import psycopg

            from tests.stores.contract import POSTGRES_URL

            name = f"sentiero_djtpl_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            atexit.register(_drop_postgres, name)
            _register(alias, _postgres_config(name))
        _migrate(alias)
        _templates[vendor] = name
        return name


def _postgres_config(name: str) -> dict:  # type: ignore[type-arg]
    from django.conf import settings

    return {**settings.DATABASES["postgres"], "NAME": name}


def _drop_postgres(name: str) -> None:
    import psycopg

    from tests.stores.contract import POSTGRES_URL

    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_django_store(vendor: str, folder: str):  # type: ignore[no-untyped-def]
    """An empty, migrated DjangoStore in a database of its own (``sqlite`` or ``postgres``),
    copied from a template; returns (store, drop)."""
    import os
    import shutil
    import uuid

    configure()
    from django.db import connections

    template = _template(vendor, folder)
    alias = f"t_{uuid.uuid4().hex[:10]}"
    if vendor == "sqlite":
        name = os.path.join(folder, f"{alias}.sqlite3")
        shutil.copyfile(template, name)
        _register(alias, {"ENGINE": "django.db.backends.sqlite3", "NAME": name})
    else:
        import psycopg

        from tests.stores.contract import POSTGRES_URL

        name = f"sentiero_dj_{alias}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        _register(alias, _postgres_config(name))

    def drop() -> None:
        connections[alias].close()
        if vendor != "sqlite":
            _drop_postgres(name)

    return django_store(alias), drop
