"""``sentiero keys``: create, list and revoke the ingest keys that sentry-sdk (its DSN) and
the original's reporter (``Authorization: Bearer``) present."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from sentiero.stores.base import ID_PATTERN

STORE_OPTION = click.option(
    "--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
    help="The store Sentiero runs on (as for `sentiero serve`). Env: SENTIERO_STORE_URL.")


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@click.group()
def keys() -> None:
    """Ingest keys for server-side error reports (stored hashed; shown once)."""


@keys.command("create")
@STORE_OPTION
@click.option("--project", required=True, help="Project the key reports into (1-128 letters, "
              "digits, _ or -).")
@click.option("--public-url", default=None, envvar="SENTIERO_PUBLIC_URL",
              help="Where reporters reach Sentiero (e.g. https://rec.example/sentiero), to print "
                   "the DSN. Env: SENTIERO_PUBLIC_URL.")
def create(store_url: str, project: str, public_url: str | None) -> None:
    """Create a key and print it (it cannot be shown again)."""
    from sentiero.cli import _open_store, _store_errors
    from sentiero.tracking.keys import create_key

    if not ID_PATTERN.match(project):
        raise click.BadParameter("use 1-128 letters, digits, _ or -", param_hint="--project")
    store = _open_store(store_url)
    try:
        with _store_errors():
            key, record = create_key(store, project)
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"Ingest key for project {project} (id {record.key_id}); store it now, it is not "
               "shown again:")
    click.echo(key)
    base = (public_url or "http://127.0.0.1:8000/sentiero").rstrip("/")
    scheme, _, rest = base.partition("://")
    click.echo(f"sentry-sdk DSN: {scheme}://{key}@{rest}/1")
    click.echo(f"Bearer endpoints: {base}/errors and {base}/track")


@keys.command("list")
@STORE_OPTION
def list_keys(store_url: str) -> None:
    """Key ids, projects, and when each was created or revoked (never the keys)."""
    from sentiero.cli import _open_store, _store_errors

    store = _open_store(store_url)
    try:
        with _store_errors():
            records = store.list_ingest_keys()
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if not records:
        click.echo("No ingest keys: create one with `sentiero keys create --project NAME`.")
        return
    click.echo(f"{'KEY ID':<14} {'PROJECT':<24} {'CREATED':<22} REVOKED")
    for r in records:
        click.echo(f"snt_{r.key_id:<10} {r.project:<24} {_when(r.created_ms):<22} "
                   f"{_when(r.revoked_ms)}")


@keys.command("revoke")
@STORE_OPTION
@click.argument("key_id")
def revoke(store_url: str, key_id: str) -> None:
    """End a key: KEY_ID as `keys list` shows it (snt_<id>), or the whole key."""
    from sentiero.cli import _open_store, _store_errors

    parts = key_id.strip().split("_")
    ident = parts[1] if len(parts) >= 2 and parts[0] == "snt" else key_id.strip()
    store = _open_store(store_url)
    try:
        with _store_errors():
            done = store.revoke_ingest_key(ident)
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if not done:
        raise click.ClickException(f"no active ingest key with id {ident}")
    click.echo(f"Revoked key snt_{ident}: reports using it are refused from now on.")
