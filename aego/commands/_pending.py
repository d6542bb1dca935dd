"""Placeholder used while a front end is being written; every use is a visible error, never silence."""

from aego.errors import UsageError


def pending(command: str) -> int:
    raise UsageError(f"'aego {command}' is not implemented in this build yet")
