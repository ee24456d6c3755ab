"""Hatchling build hook: build the browser bundles (frontend/) before packaging.

The built files live in src/sentiero/web/static/dist/ and are git-ignored, so a wheel, an sdist
or an editable install from a git checkout needs Node.js to produce them once. An sdist already
carries them, so installing from an sdist needs no Node.js at all.

Set SENTIERO_FRONTEND_BUILD=1 to force a rebuild even when the files exist.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

DIST_DIR = Path("src", "sentiero", "web", "static", "dist")
ARTIFACT_PATTERN = "src/sentiero/web/static/dist/**"
REQUIRED_ASSETS = ("recorder", "dashboard", "dashboard.css")

NODE_MISSING = (
    "Building Sentiero's browser assets needs Node.js 18+ with npm, and `npm` is not on PATH. "
    "Install it (Debian/Ubuntu: `apt-get install nodejs npm`; others: https://nodejs.org) and "
    "retry, or install a Sentiero wheel or sdist that already carries the built files "
    "(src/sentiero/web/static/dist/)."
)


def built_assets_present(root: Path) -> bool:
    """True when dist/manifest.json exists and every file it names is there."""
    dist = root / DIST_DIR
    manifest_path = dist / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    for name in REQUIRED_ASSETS:
        file_name = manifest.get(name)
        if not isinstance(file_name, str) or not (dist / file_name).is_file():
            return False
    return True


def force_requested() -> bool:
    return os.environ.get("SENTIERO_FRONTEND_BUILD", "").strip() == "1"


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        # Wheels (also editable ones) and sdists must carry the built files although git
        # ignores them.
        build_data.setdefault("artifacts", []).append(ARTIFACT_PATTERN)

        if built_assets_present(root) and not force_requested():
            return  # e.g. a wheel built from an sdist, or a previous build
        self.build_frontend(root / "frontend")
        if not built_assets_present(root):
            raise RuntimeError(
                f"The frontend build finished but {DIST_DIR / 'manifest.json'} or a file it "
                "names is missing; run `npm run build` in frontend/ to see what went wrong."
            )

    def build_frontend(self, frontend: Path) -> None:
        if not (frontend / "package.json").is_file():
            raise RuntimeError(
                f"Sentiero's built browser assets ({DIST_DIR}) are missing and there is no "
                f"frontend/package.json to build them from ({frontend}). Install from a wheel or "
                "sdist that carries the built files, or from a full source checkout."
            )
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(NODE_MISSING)
        install = ["ci"] if (frontend / "package-lock.json").is_file() else ["install"]
        for args in (install + ["--no-audit", "--no-fund"], ["run", "build"]):
            self.app.display_info(f"sentiero: npm {' '.join(args)} (in {frontend})")
            self.run_npm(npm, args, frontend)

    def run_npm(self, npm: str, args: list[str], cwd: Path) -> None:
        try:
            result = subprocess.run(
                [npm, *args],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
        except OSError as exc:  # npm vanished or is not executable
            raise RuntimeError(f"{NODE_MISSING} ({exc})") from exc
        output = result.stdout or ""
        if result.returncode != 0:
            tail = "\n".join(output.strip().splitlines()[-40:])
            raise RuntimeError(
                f"`npm {' '.join(args)}` failed in {cwd} (exit {result.returncode}); Node.js 18+ "
                f"is required.\n{tail}"
            )
        for line in output.splitlines():
            if line.strip() and "nodedir" not in line:
                self.app.display_info(f"  {line}")
