"""Built assets: manifest lookup and reload, URLs, serving, traversal safety, /recorder.js."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import brotli
import orjson
import pytest

from sentiero.web.assets import Assets, AssetsNotBuiltError


def test_manifest_lookup_and_url(assets_dir: Path) -> None:
    assets = Assets(assets_dir)
    assert assets.filename("recorder") == "recorder-ABCD1234.js"
    assert assets.url("dashboard.css", "/sentiero") == "/sentiero/assets/dashboard-IJKL9012.css"


def test_manifest_is_cached_and_reread_when_it_changes(assets_dir: Path) -> None:
    assets = Assets(assets_dir)
    first = assets.manifest()
    assert assets.manifest() is first, "cached while the file is unchanged"
    manifest = assets_dir / "manifest.json"
    manifest.write_bytes(orjson.dumps({"recorder": "recorder-NEWHASH1.js"}))
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert assets.filename("recorder") == "recorder-NEWHASH1.js"


def test_missing_manifest_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(AssetsNotBuiltError) as exc:
        Assets(tmp_path).manifest()
    assert "npm ci && npm run build" in str(exc.value)
    assert "reinstall sentiero" in str(exc.value)


def test_unknown_name_and_broken_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(AssetsNotBuiltError, match="npm run build"):
        Assets(tmp_path).manifest()
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(AssetsNotBuiltError, match="'recorder'"):
        Assets(tmp_path).filename("recorder")


def test_hashed_asset_is_immutable(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app())
    response = client.get("/assets/recorder-ABCD1234.js")
    assert response.status_code == 200
    assert response.get_data() == b"/* recorder */\n"
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    css = client.get("/assets/dashboard-IJKL9012.css")
    assert css.headers["Content-Type"].startswith("text/css")


def test_unhashed_asset_gets_a_short_cache(make_app: Any, client_for: Any,
                                            assets_dir: Path) -> None:
    (assets_dir / "logo.svg").write_text("<svg/>")
    (assets_dir / "blob.bin").write_bytes(b"\0")
    client = client_for(make_app())
    svg = client.get("/assets/logo.svg")
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "public, max-age=86400"
    assert client.get("/assets/blob.bin").headers["Content-Type"] == "application/octet-stream"


def test_assets_are_public_even_with_auth(make_app: Any, client_for: Any) -> None:
    client = client_for(make_app(basic_auth=("u", "p")))
    assert client.get("/assets/recorder-ABCD1234.js").status_code == 200
    assert client.get("/recorder.js").status_code == 200
    assert client.get("/").status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/assets/../manifest.json", "/assets/..%2fmanifest.json", "/assets/%2e%2e/secret.txt",
     "/assets/sub/file.js", "/assets//etc/passwd", "/assets/%2fetc%2fpasswd",
     "/assets/nothere-ABCD1234.js", "/assets/", "/assets/x%00.js", "/assets/.hidden",
     "/assets/page.erb"],
)
def test_traversal_and_missing_files_are_404(make_app: Any, client_for: Any, assets_dir: Path,
                                             path: str) -> None:
    (assets_dir.parent / "secret.txt").write_text("secret")
    (assets_dir / ".hidden").write_text("hidden")
    (assets_dir / "page.erb").write_text("<%= x %>")
    sub = assets_dir / "sub"
    sub.mkdir()
    (sub / "file.js").write_text("x")
    response = client_for(make_app()).get(path)
    assert response.status_code == 404
    assert b"secret" not in response.get_data()


def test_symlink_out_of_the_directory_is_404(make_app: Any, client_for: Any,
                                             assets_dir: Path) -> None:
    (assets_dir.parent / "outside.js").write_text("outside")
    (assets_dir / "link-ABCD1234.js").symlink_to(assets_dir.parent / "outside.js")
    assert client_for(make_app()).get("/assets/link-ABCD1234.js").status_code == 404


def test_recorder_alias(make_app: Any, client_for: Any) -> None:
    response = client_for(make_app()).get("/recorder.js")
    assert response.status_code == 200
    assert response.get_data() == b"/* recorder */\n"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Content-Type"].startswith("application/javascript")


def test_recorder_alias_404_when_not_built(make_app: Any, client_for: Any,
                                           tmp_path: Path) -> None:
    client = client_for(make_app(assets_dir=str(tmp_path / "none")))
    assert client.get("/recorder.js").status_code == 404


def test_dashboard_page_without_build_says_how_to_fix(make_app: Any, client_for: Any,
                                                      tmp_path: Path) -> None:
    client = client_for(make_app(assets_dir=str(tmp_path / "none"), allow_open_dashboard=True))
    response = client.get("/")
    assert response.status_code == 200
    assert "npm ci &amp;&amp; npm run build" in response.get_data(as_text=True)


def test_post_to_assets_is_404(make_app: Any, client_for: Any) -> None:
    assert client_for(make_app()).post("/assets/recorder-ABCD1234.js").status_code == 404



def _write_twins(assets_dir: Path, name: str = "recorder-ABCD1234.js") -> dict[str, bytes]:
    """Stand-ins for the build's twins: distinct bytes, so the test sees which one was sent."""
    plain = (assets_dir / name).read_bytes()
    twins = {"br": b"BROTLI-" + name.encode(), "gzip": gzip.compress(plain)}
    (assets_dir / f"{name}.br").write_bytes(twins["br"])
    (assets_dir / f"{name}.gz").write_bytes(twins["gzip"])
    return twins


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("gzip, deflate, br, zstd", "br"), ("br;q=1.0, gzip;q=0.8", "br"), ("gzip", "gzip"),
     ("gzip, br;q=0", "gzip"), ("*", "br"), ("identity", None), (None, None)],
)
def test_assets_are_sent_precompressed_by_accept_encoding(
    make_app: Any, client_for: Any, assets_dir: Path, accept: str | None, expected: str | None
) -> None:
    twins = _write_twins(assets_dir)
    client = client_for(make_app())
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    for path in ("/assets/recorder-ABCD1234.js", "/recorder.js"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert response.headers.get("Content-Encoding") == expected
        body = response.get_data()
        assert body == (twins[expected] if expected else b"/* recorder */\n")
        assert response.headers["Content-Length"] == str(len(body))
    immutable = client.get("/assets/recorder-ABCD1234.js", headers=headers)
    assert immutable.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_a_file_without_twins_is_sent_plain(make_app: Any, client_for: Any) -> None:
    response = client_for(make_app()).get("/assets/recorder-ABCD1234.js",
                                          headers={"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == b"/* recorder */\n"
    assert response.headers["Vary"] == "Accept-Encoding"


def test_twins_are_not_served_under_their_own_names(make_app: Any, client_for: Any,
                                                    assets_dir: Path) -> None:
    _write_twins(assets_dir)
    client = client_for(make_app())
    assert client.get("/assets/recorder-ABCD1234.js.br").status_code == 404
    assert client.get("/assets/recorder-ABCD1234.js.gz").status_code == 404


def test_the_real_build_has_twins_that_decode_to_the_file() -> None:
    """Every file of the frontend build carries brotli and gzip twins of the same bytes."""
    from sentiero.web.assets import DEFAULT_ASSETS_DIR

    assets = Assets(DEFAULT_ASSETS_DIR)
    for name in set(assets.manifest().values()):
        plain = (DEFAULT_ASSETS_DIR / name).read_bytes()
        assert gzip.decompress((DEFAULT_ASSETS_DIR / f"{name}.gz").read_bytes()) == plain
        assert brotli.decompress((DEFAULT_ASSETS_DIR / f"{name}.br").read_bytes()) == plain
