"""The ``sentiero_*`` management commands run the ``sentiero`` CLI's own commands (one
implementation) on the project's store from ``settings.SENTIERO``: same options, same
messages, same exit codes; ``manage.py sentiero_purge --help`` shows them."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser


class _PassThroughParser(CommandParser):
    """Hands every argument to click instead of parsing it with argparse."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        return argparse.Namespace(args=list(args or []), verbosity=1, settings=None,
                                  pythonpath=None, traceback=False, no_color=False,
                                  force_color=False, skip_checks=False)


class CliCommand(BaseCommand):
    cli_name = ""
    """The ``sentiero`` subcommand this management command runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._standalone = False
        self.help = (self._click_command().help or "").split("\n\n")[0]

    def _click_command(self) -> click.Command:
        from sentiero import cli

        command = cli.main.get_command(click.Context(cli.main), self.cli_name)
        assert command is not None
        return command

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self._prog = f"{os.path.basename(prog_name)} {subcommand}"
        return _PassThroughParser(prog=self._prog, add_help=False)

    def run_from_argv(self, argv: list[str]) -> None:
        self._standalone = True  # click prints usage errors and sets the exit code
        super().run_from_argv(argv)

    def handle(self, *args: str, **options: Any) -> None:
        from sentiero.contrib.django.conf import get_sentiero

        if any(a == "--store" or a.startswith("--store=") for a in args):
            raise CommandError("manage.py commands use the project's store (settings.SENTIERO);"
                               " for another store run the `sentiero` command")
        sentiero = get_sentiero()
        defaults: dict[str, Any] = {"store_url": "settings.SENTIERO"}
        if self.cli_name == "purge" and sentiero.settings.retention_period_s is not None:
            defaults["older_than"] = str(sentiero.settings.retention_period_s)
        command = self._click_command()
        run = dict(args=list(args), prog_name=getattr(self, "_prog", self.cli_name),
                   obj={"store": sentiero.store}, default_map=defaults)
        if self._standalone:
            command.main(**run, standalone_mode=True)
            return
        try:
            command.main(**run, standalone_mode=False)
        except click.exceptions.Abort:
            raise CommandError("Aborted.") from None
        except click.ClickException as exc:
            raise CommandError(exc.format_message()) from None
        sys.stdout.flush()
