"""The configuration reference stays complete: every Settings option is documented."""

from pathlib import Path

from sentiero.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_option_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.option_names() if f"`{name}`" not in text]
    assert missing == []


def test_readme_links_resolve() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    for target in ("docs/quickstart.md", "docs/configuration.md", "docs/troubleshooting.md",
                   "docs/architecture.md", "docs/images/replay.png", "LICENSE"):
        assert target in readme
        assert (DOCS.parent / target).exists(), target
