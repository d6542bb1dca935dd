"""argparse value types that reject bad input with a message saying how to fix it."""

from __future__ import annotations

import argparse
import ipaddress


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive finite number")
    return value


def buffer_ms(text: str) -> float:
    """``--buffer-ms``: the audio queued ahead of the output, 0 (the default two blocks) to 1000 ms."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of milliseconds") from None
    if not 0.0 <= value <= 1000.0:
        raise argparse.ArgumentTypeError(f"'{text}' must be between 0 and 1000 milliseconds")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a whole number above 0")
    return value


def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:8000)")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': the port '{port}' is not a number") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"'{text}': the port must be between 1 and 65535")
    return host.strip("[]"), number


def audio_output(text: str) -> str:
    if text in ("default", "jack", "null") or (text.startswith("file:") and len(text) > 5):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is not an audio output: use default, jack, null or file:PATH.wav")


def space_override(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=PATH (e.g. a=myspace.space)")
    return name, path


def ip_list(text: str) -> list[str]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{item}' is not an IP address") from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one IP address, comma-separated")
    return out
