"""The ``sentiero`` command: demo, serve, migrate (and the maintenance commands)."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import click

from sentiero.settings import ConfigurationError, Settings

STORE_HELP = (
    "Where recordings are kept: sqlite:///path.db, postgresql://user@host/db, "
    "mysql://user@host/db, redis://host:6379/0, file:///path or memory://."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sentiero")
def main() -> None:
    """Sentiero: self-hosted session recording, replay and analytics."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    default="./sentiero-demo.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file the demo records into.",
)
@click.option("--open-browser/--no-open-browser", default=False, help="Open the demo in a browser.")
def demo(host: str, port: int, db: str, open_browser: bool) -> None:
    """Serve a small demo site that is recorded, with the dashboard beside it.

    The dashboard is open without auth, so the demo only listens on a loopback address.
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise click.UsageError("the demo's dashboard has no auth: it only listens on 127.0.0.1")
    from sentiero.app import Sentiero
    from sentiero.demo.site import build_demo_app
    from sentiero.server import run_gunicorn

    sentiero = _build(
        Sentiero,
        store_url=f"sqlite:///{Path(db).resolve()}",
        allow_open_dashboard=True,
        flush_interval_ms=3_000,
        capture_errors=True,
    )
    site_url = f"http://{host}:{port}/"
    dashboard_url = f"http://{host}:{port}{sentiero.settings.prefix}/"

    def announce() -> None:
        click.echo(f"Demo site:  {site_url}")
        click.echo(f"Dashboard:  {dashboard_url}")
        click.echo(f"Recording into {Path(db).resolve()} — press Ctrl+C to stop.")
        if open_browser:
            webbrowser.open(site_url)

    run_gunicorn(build_demo_app(sentiero), host, port, workers=1, threads=8, on_ready=announce)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL",
              default="sqlite:///sentiero.db", show_default=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--prefix", envvar="SENTIERO_PREFIX", default="/sentiero", show_default=True,
              help="Path everything is served under. Env: SENTIERO_PREFIX.")
@click.option("--public-url", envvar="SENTIERO_PUBLIC_URL", default=None,
              help="Absolute URL of this server as browsers reach it (https://rec.example), used "
                   "in the script tag other sites embed. Env: SENTIERO_PUBLIC_URL.")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="An origin allowed to send events, exactly as the browser sends it "
                   "(https://shop.example). Repeat for several. Env: SENTIERO_CORS_ORIGINS "
                   "(comma-separated).")
@click.option("--open-dashboard", is_flag=True, default=False,
              help="Serve the dashboard without any auth. Otherwise set "
                   "SENTIERO_BASIC_AUTH=user:password, or the dashboard answers 403.")
@click.option("--workers", default=2, show_default=True, type=int,
              help="Worker processes (gunicorn).")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option("--access-log", is_flag=True, default=False, help="Log every request to stdout.")
def serve(host: str, port: int, store_url: str, prefix: str, public_url: str | None,
          cors_origins: tuple[str, ...], open_dashboard: bool, workers: int, threads: int,
          access_log: bool) -> None:
    """Run Sentiero standalone, for sites in any language, on gunicorn.

    Every Settings option can also be given as a SENTIERO_* environment variable
    (SENTIERO_MAX_SESSIONS=10000, SENTIERO_RESPECT_GPC=false, ...). Dashboard auth comes from
    SENTIERO_BASIC_AUTH=user:password or --open-dashboard.
    """
    from sentiero.app import Sentiero
    from sentiero.server import run_gunicorn

    overrides: dict[str, object] = {"store_url": store_url, "prefix": prefix}
    if public_url:
        overrides["public_url"] = public_url
    if cors_origins:
        overrides["cors_origins"] = list(cors_origins)
    if open_dashboard:
        overrides["allow_open_dashboard"] = True
    try:
        settings = Settings.from_env(**overrides)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from exc
    if not (settings.basic_auth or settings.allow_open_dashboard):
        click.echo("warning: no dashboard auth configured — the dashboard will answer 403. "
                   "Set SENTIERO_BASIC_AUTH=user:password or pass --open-dashboard.", err=True)
    sentiero = _build(Sentiero, settings=settings)
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}{settings.prefix}"

    def announce() -> None:
        click.echo(f"Sentiero listening: events {base}/events, dashboard {base}/")
        click.echo(f"Add to your pages: {sentiero.script_tag()}")

    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    root = DispatcherMiddleware(_not_found, {settings.prefix: sentiero.wsgi_app})
    run_gunicorn(root, host, port, workers=workers, threads=threads, on_ready=announce,
                 access_log=access_log)


@main.command()
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True, help=STORE_HELP)
def migrate(store_url: str) -> None:
    """Create or upgrade the database schema in place (SQL stores)."""
    from sentiero.stores import open_store

    store = open_store(store_url)
    applied = store.migrate()
    if applied:
        click.echo(f"Applied migrations: {', '.join(str(v) for v in applied)}")
    else:
        click.echo("The schema is up to date.")
    store.close()


def _not_found(environ: dict, start_response):  # type: ignore[no-untyped-def]
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Not Found"]


def _build(cls, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return cls(**kwargs)
    except (ConfigurationError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
