"""``sentiero keys create | list | revoke`` against a real SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from sentiero.cli import main
from sentiero.stores.sql import SQLStore
from sentiero.tracking.keys import resolve_key


def test_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--store", url, "--project", "shop",
                                   "--public-url", "https://rec.example/sentiero"])
    assert created.exit_code == 0, created.output
    key = re.search(r"^(snt_[0-9a-f]{12}_[0-9a-f]{32})$", created.output, re.M).group(1)
    assert f"https://{key}@rec.example/sentiero/1" in created.output
    store = SQLStore(url)
    try:
        assert resolve_key(store, key).project == "shop"
        assert key not in str([k.to_dict() for k in store.list_ingest_keys()])  # hashed
    finally:
        store.close()
    listed = runner.invoke(main, ["keys", "list", "--store", url])
    key_id = key.split("_")[1]
    assert listed.exit_code == 0 and f"snt_{key_id}" in listed.output and "shop" in listed.output
    assert key not in listed.output
    revoked = runner.invoke(main, ["keys", "revoke", "--store", url, f"snt_{key_id}"])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(main, ["keys", "revoke", "--store", url, key])
    assert again.exit_code == 1 and "no active ingest key" in again.output
    store = SQLStore(url)
    try:
        assert resolve_key(store, key) is None
    finally:
        store.close()


def test_bad_project_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(main, ["keys", "create", "--store", url, "--project", "a b"])
    assert result.exit_code == 2 and "--project" in result.output
    empty = CliRunner().invoke(main, ["keys", "list", "--store", url])
    assert "No ingest keys" in empty.output
