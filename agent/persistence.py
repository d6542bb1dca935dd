"""Saving and loading an explorer without pickle: one safetensors file, arrays + JSON metadata.

The file holds named NumPy arrays (network weights, replay samples) and, in the safetensors header's
metadata, one JSON document (settings, counters, position, novelty counts). Writes go to a temporary
file that replaces the old one only when complete, so an interrupted save never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "aego-agent"
VERSION = 2  # 2: per-axis input blocks, comparison labels in the replay (version 1 files start fresh)


class AgentFileError(Exception):
    """The agent file cannot be used (missing, truncated, foreign, or from another version)."""


def write(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (JSON-able) to ``path`` atomically."""
    from safetensors.numpy import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "version": str(VERSION), "meta": json.dumps(meta)}
    blob = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=header)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` from ``path``; :class:`AgentFileError` saying what is wrong otherwise."""
    from safetensors import safe_open
    from safetensors.numpy import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AgentFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        arrays = load(data)
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise AgentFileError(f"{path} is not a readable agent file ({exc})") from None
    if header.get("format") != FORMAT:
        raise AgentFileError(f"{path} is not an ægo agent file")
    if header.get("version") != str(VERSION):
        raise AgentFileError(f"{path} is an agent file of version {header.get('version')}, expected {VERSION}")
    try:
        meta = json.loads(header["meta"])
    except (KeyError, json.JSONDecodeError, RecursionError) as exc:
        raise AgentFileError(f"{path} has damaged metadata ({type(exc).__name__})") from None
    return arrays, meta


def set_aside(path: str | Path) -> Path | None:
    """Rename an unusable file to ``NAME.corrupt-<time>`` so nothing overwrites it; the new name or None."""
    path = Path(path)
    if not path.exists():
        return None
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, target)
    return target
