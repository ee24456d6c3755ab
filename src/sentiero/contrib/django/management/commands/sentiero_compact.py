from sentiero.contrib.django.commands import CliCommand


class Command(CliCommand):
    cli_name = "compact"
