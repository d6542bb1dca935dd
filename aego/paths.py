"""Where ægo keeps the user's things: XDG data and config folders, and bundled resources."""

from __future__ import annotations

import os
import time
from pathlib import Path


def data_dir() -> Path:
    """The user's ægo data folder (sessions, rendered datasets): ``$XDG_DATA_HOME/aego``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "aego"


def config_dir() -> Path:
    """The user's ægo config folder (calibrations, settings): ``$XDG_CONFIG_HOME/aego``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "aego"


def new_session_dir() -> Path:
    """A fresh timestamped session folder under :func:`data_dir` (not yet created)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    root = data_dir() / "sessions"
    path = root / stamp
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}_{n}"
    return path


def bundled_spaces_dir() -> Path:
    """The folder of the sound spaces shipped in the package."""
    return Path(__file__).resolve().parent / "spaces"
