"""The ``sentiero`` command: demo, serve, migrate, the maintenance commands purge,
compact, warm-cache, erase, export, import and scan, and ``keys`` (cli_keys.py)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time as time_module
import webbrowser
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import IO, Any

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

    base_url = f"http://{host}:{port}{sentiero.settings.prefix}"
    app = build_demo_app(sentiero, base_url)
    run_gunicorn(app, host, port, workers=1, threads=8, on_ready=announce)


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
@click.option("--access-log", is_flag=True, default=False,
              help="Log every request to stdout (time, method, path, status; never the client "
                   "IP or the query string).")
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


# --- maintenance ------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.I)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or plain seconds, as seconds."""
    match = _DURATION.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"{text!r} is not a duration: use a number with a unit, like 30d, 12h, 90m or 2w"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2).lower()]


def parse_moment(text: str, *, end_of_day: bool) -> datetime:
    """An ISO date (the whole UTC day: its start for --since, its end for --until) or an ISO
    date and time (UTC unless it says otherwise)."""
    raw = text.strip()
    try:
        if _DATE.match(raw):
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            at = time.max if end_of_day else time.min
            return datetime.combine(day, at, timezone.utc)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date: use 2024-05-01 or 2024-05-01T13:30:00"
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _open_store(store_url: str) -> Any:
    """The store of ``--store``, or the one a framework integration hands over (``obj``
    {"store": ...}: Django's management commands run these commands on the project's store)."""
    from sentiero.stores import open_store
    from sentiero.stores.base import StoreError

    given = click.get_current_context().find_object(dict)
    if given and given.get("store") is not None:
        return given["store"]
    try:
        store = open_store(store_url)
        store.setup()
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    return store


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    from sentiero.stores.base import StoreError

    try:
        yield
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


class _Progress:
    """A ``progress(done, total)`` callback drawing a click progress bar on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label,
                                         file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        if total > self.bar.length:
            self.bar.length = total
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _plural(count: int, word: str = "session") -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@main.command()
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--older-than", "older_than", default=None, metavar="DURATION",
              help="Delete sessions with no activity for this long: 30d, 12h, 90m, 2w or "
                   "seconds. Default: SENTIERO_RETENTION_PERIOD_S.")
def purge(store_url: str, older_than: str | None) -> None:
    """Retention: delete the sessions not updated for a while, with everything they left.

    Run it from cron (e.g. daily). Without --older-than, the retention period comes from
    SENTIERO_RETENTION_PERIOD_S (seconds).
    """
    from sentiero.privacy import erasure

    if older_than is not None:
        seconds = parse_duration(older_than)
    else:
        raw = os.environ.get("SENTIERO_RETENTION_PERIOD_S", "").strip()
        if not raw:
            raise click.UsageError(
                "say how old: --older-than 30d, or set SENTIERO_RETENTION_PERIOD_S (seconds)"
            )
        try:
            seconds = parse_duration(raw)
        except click.BadParameter as exc:
            raise click.UsageError(f"SENTIERO_RETENTION_PERIOD_S: {exc.message}") from None
    store = _open_store(store_url)
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    try:
        with _store_errors():
            count = erasure.purge_expired(store, seconds)
    finally:
        store.close()
    click.echo(f"Purged {_plural(count)} with no activity since "
               f"{cutoff.strftime('%Y-%m-%d %H:%M:%S UTC')}.")


@main.command()
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--idle", "idle", default="30m", show_default=True, metavar="DURATION",
              help="Compact sessions with no activity for this long: 30m, 12h, 2d or seconds.")
@click.option("--session", "session_ids", multiple=True, metavar="ID",
              help="Compact this session (idle or not). Repeat for several.")
def compact(store_url: str, idle: str, session_ids: tuple[str, ...]) -> None:
    """Storage: rewrite idle windows' small chunks as fewer, larger ones (docs/storage.md).

    Runs of consecutive chunks are joined into chunks of up to 2 MiB of JSON compressed
    harder (zstd level 19; a trained rrweb dictionary for small windows). Replay still seeks
    by chunk. Safe to run at any time, also beside live servers and more than once: each run
    is replaced in one atomic write, and a batch arriving meanwhile wins.
    """
    from sentiero.compaction import compact_store
    from sentiero.stores.base import validate_id

    seconds = parse_duration(idle)
    try:
        ids = [validate_id(s, "session id") for s in session_ids] or None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--session") from None
    store = _open_store(store_url)
    try:
        with _store_errors():
            stats = compact_store(store, seconds, session_ids=ids)
    except NotImplementedError:
        raise click.UsageError(f"{type(store).__name__} cannot compact chunks") from None
    finally:
        store.close()
    saved = stats.bytes_before - stats.bytes_after
    click.echo(f"Compacted {_plural(stats.windows, 'window')}: {stats.chunks_before:,} chunks "
               f"into {stats.chunks_after:,}, {stats.bytes_before:,} -> {stats.bytes_after:,} "
               f"bytes ({saved:,} saved).")


@main.command("warm-cache")
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--force", is_flag=True, default=False,
              help="Run every view even when the last pass left the day versions as they are.")
def warm_cache_command(store_url: str, force: bool) -> None:
    """Analytics: compute the closed days of the pages' default views into the day cache.

    Runs the analyses of the overview (14, 30 and 90 days), pages, Web Vitals, client errors,
    segments, heatmap, scroll, forms, frustration, engagement and the funnel's step picker as
    their pages do without filters, then the page report, heatmap and forms of the busiest
    pages and every saved funnel, so that a page's first request finds its days cached.
    Cheap when nothing changed since the last pass; one process at a time (another one
    warming: this one skips). Run it from cron a little after midnight UTC, or leave it to
    the server's background thread (SENTIERO_WARM_CACHE_INTERVAL_S). SQL stores only.
    """
    from sentiero.analytics.warm import warm_cache

    store = _open_store(store_url)
    began = time_module.perf_counter()
    try:
        with _store_errors():
            report = warm_cache(store, force=force)
    finally:
        store.close()
    click.echo(report.describe())
    if not report.skipped:
        click.echo(f"Done in {time_module.perf_counter() - began:.1f} s.")
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} views failed (see the log above)")


@main.command()
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--session", "session_ids", multiple=True, metavar="ID",
              help="A session id to erase. Repeat for several.")
@click.option("--since", default=None, metavar="DATE",
              help="Sessions last active on or after this date (2024-05-01) or time "
                   "(2024-05-01T13:30:00; UTC unless it says otherwise).")
@click.option("--until", default=None, metavar="DATE",
              help="Sessions last active on or before this date (the whole day) or time.")
@click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
              help="Sessions whose metadata KEY equals VALUE (a number or true/false matches "
                   "its JSON form too). Repeat: every one must match.")
@click.option("--yes", "-y", is_flag=True, default=False,
              help="Do not ask for confirmation.")
def erase(store_url: str, session_ids: tuple[str, ...], since: str | None, until: str | None,
          meta: tuple[str, ...], yes: bool) -> None:
    """Right to erasure: delete sessions by id, by time range or by metadata, with everything
    they left (recordings, facts, dedup records, window state, metadata).

    Given several criteria, a session must meet all of them. Prints how many sessions match
    and asks before deleting, unless --yes.
    """
    from sentiero.privacy import erasure

    metadata: dict[str, str] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} must look like key=value", param_hint="--meta")
        metadata[key] = value
    try:
        criteria = erasure.Criteria(
            session_ids=list(session_ids) or None,
            since=None if since is None else parse_moment(since, end_of_day=False),
            until=None if until is None else parse_moment(until, end_of_day=True),
            metadata=metadata or None,
        )
    except ValueError as exc:
        raise click.UsageError(
            str(exc).replace("session ids, a time range (since/until) or a metadata filter",
                             "--session ID, --since/--until DATE or --meta KEY=VALUE")
        ) from exc
    store = _open_store(store_url)
    try:
        with _store_errors():
            matching = erasure.select_sessions(store, criteria, erasure.matches_metadata_text)
            click.echo(f"{_plural(len(matching))} to erase.")
            if not matching:
                return
            if not yes:
                click.confirm(
                    f"Erase {_plural(len(matching))} and everything recorded in them? "
                    "This cannot be undone", abort=True, err=True)
            erased = 0
            with click.progressbar(matching, label="Erasing", file=sys.stderr) as bar:
                for session_id in bar:
                    erased += bool(store.delete_session(session_id))
    finally:
        store.close()
    click.echo(f"Erased {_plural(erased)}.")


@main.command(name="export")
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE",
              help="Where to write the JSON lines export; - for standard output.")
@click.option("--session", "session_ids", multiple=True, metavar="ID",
              help="Export only this session. Repeat for several. Default: every session.")
def export_command(store_url: str, output: str, session_ids: tuple[str, ...]) -> None:
    """Write sessions (recordings, metadata, facts) to a JSON lines file that `sentiero
    import` reads back into any store; an export of every session carries the saved funnels
    too."""
    from sentiero.stores.base import validate_id
    from sentiero.transfer import export_sessions

    try:
        ids = [validate_id(s, "session id") for s in session_ids] or None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--session") from None
    store = _open_store(store_url)
    progress = _Progress("Exporting")
    try:
        with _store_errors(), _output(output) as out:
            count = export_sessions(store, out, ids, progress=progress)
    finally:
        progress.close()
        store.close()
    where = "standard output" if output == "-" else output
    click.echo(f"Exported {_plural(count)} to {where}.", err=True)


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        with open(tmp, "wb") as out:
            yield out
        os.replace(tmp, target)  # a failed export never leaves a half file under the name
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@main.command(name="import")
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.argument("file", type=click.File("rb"))
def import_command(store_url: str, file: IO[bytes]) -> None:
    """Read a `sentiero export` file (- for standard input) into a store. Importing the same
    file twice stores nothing twice."""
    from sentiero.transfer import import_file

    store = _open_store(store_url)
    progress = _Progress("Importing")
    try:
        with _store_errors():
            result = import_file(store, file, progress=progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        progress.close()
        store.close()
    funnels = (f" and {_plural(result.saved_funnels, 'saved funnel')}"
               if result.saved_funnels else "")
    click.echo(f"Imported {_plural(result.sessions)} with new data{funnels}.")
    if result.funnels_not_kept:
        click.echo(f"This store keeps no saved funnels: {result.funnels_not_kept} in the file "
                   "were left out.", err=True)


def _not_found(environ: dict, start_response):  # type: ignore[no-untyped-def]
    """Paths outside the prefix on ``sentiero serve``: a 404 with the security headers of
    every other answer."""
    from werkzeug.wrappers import Response

    from sentiero.web.security import apply_dashboard_headers

    response = apply_dashboard_headers(Response("Not Found", status=404,
                                                content_type="text/plain; charset=utf-8"))
    return response(environ, start_response)


def _build(cls, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return cls(**kwargs)
    except (ConfigurationError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _add_keys_group() -> None:
    from sentiero.cli_keys import keys

    main.add_command(keys)


_add_keys_group()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


@main.command()
@click.option("--store", "store_url", envvar="SENTIERO_STORE_URL", required=True,
              help=STORE_HELP + " Env: SENTIERO_STORE_URL.")
@click.option("--json", "as_json", is_flag=True, default=False,
              help="Print the report as JSON (counts, per-session counts, every finding).")
@click.option("--pattern", "custom_patterns", multiple=True, metavar="REGEX",
              help="Also report matches of this regex (kind custom). Repeat for several; "
                   "SENTIERO_REDACTION's custom_patterns are added.")
@click.option("--base-url", default="/sentiero", show_default=True,
              help="The dashboard's URL, for the links to each place.")
@click.option("--show", default=50, show_default=True, type=click.IntRange(min=0),
              help="Findings listed one by one in the text report (all of them in --json).")
def scan(store_url: str, as_json: bool, custom_patterns: tuple[str, ...], base_url: str,
         show: int) -> None:
    """Report candidate personal data in what the store holds (recordings, metadata, facts):
    emails, Luhn-valid card numbers, phone numbers, JWTs, bearer tokens, IBANs, long hex
    secrets and custom patterns, with counts per session and a link to each place. Values are
    never printed in full. Exits 1 when something is found, so it can gate a deployment."""
    import json
    import re as regex

    from sentiero.privacy.scan import Scanner, scan_store

    try:
        env_patterns = Settings.from_env().redaction.custom_patterns
        scanner = Scanner([*custom_patterns, *env_patterns])
    except regex.error as exc:
        raise click.BadParameter(f"invalid regex: {exc}", param_hint="--pattern") from None
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    base = base_url.rstrip("/")

    def link(finding: Any) -> str:
        if finding.window_id and finding.ts_ms is not None:
            return f"{base}/sessions/{finding.session_id}/windows/{finding.window_id}" \
                   f"?t={finding.ts_ms}"
        return f"{base}/sessions/{finding.session_id}"

    store = _open_store(store_url)
    progress = _Progress("Scanning")
    try:
        with _store_errors():
            report = scan_store(store, scanner, progress=progress)
    finally:
        progress.close()
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(link), indent=2))
    else:
        _print_scan(report, link, show)
    if report.findings:
        sys.exit(1)


def _print_scan(report: Any, link: Any, show: int) -> None:
    click.echo(f"Scanned {_plural(report.sessions)}, {_plural(report.windows, 'window')}, "
               f"{_plural(report.events, 'event')}, {_plural(report.facts, 'fact')}.")
    if not report.findings:
        click.echo("No candidate personal data found.")
        return
    counts = ", ".join(f"{kind} {n:,}" for kind, n in report.counts().items())
    sessions = report.per_session()
    click.echo(f"Found {len(report.findings):,} candidates of personal data in "
               f"{_plural(len(sessions))}: {counts}.")
    click.echo("\nPer session:")
    for session_id, kinds in sorted(sessions.items(), key=lambda kv: -sum(kv[1].values())):
        click.echo(f"  {session_id}  " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    click.echo("\nFindings (values masked):")
    for finding in report.findings[:show]:
        click.echo(f"  {finding.kind:<9}{finding.place:<9}{finding.excerpt:<12}"
                   f"{link(finding)}  {finding.path}")
    if len(report.findings) > show:
        click.echo(f"  ... and {len(report.findings) - show:,} more (--show N, or --json).")

