"""Where a version came from: code version, environment, who and when."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from shipyard.runtimes.base import package_versions
from shipyard.store.database import os_user

__all__ = ["git_commit", "os_user"]


def git_commit(directory: Path | None = None) -> dict[str, Any] | None:
    """The git commit of ``directory`` (default: the working directory), or ``None``
    outside a repository or without git. ``dirty`` is true with uncommitted changes."""
    cwd = directory or Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {
        "commit": commit.stdout.strip(),
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def environment(flavor_packages: dict[str, str]) -> dict[str, Any]:
    """Python and package versions at registration."""
    packages = package_versions("shipyard", "numpy", "pandas", "pyarrow")
    packages.update(flavor_packages)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "packages": dict(sorted(packages.items())),
    }
