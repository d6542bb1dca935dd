"""The UDP socket OSC arrives on, and the parsing of one datagram into messages.

We own the socket rather than use python-osc's servers: a datagram that does not parse must be counted
(python-osc drops it silently), bundle timetags must never delay delivery (a sensor whose clock runs
ahead of the laptop would stall python-osc's dispatcher), and one thread per datagram is too many.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pythonosc.osc_packet import OscPacket

RCVBUF_BYTES = 4 * 1024 * 1024  # ~10 s of two 200 Hz sensors; the kernel may clamp it to rmem_max
MAX_DATAGRAM = 65536


class MalformedDatagramError(ValueError):
    """A datagram that is not an OSC message or bundle."""


def parse_datagram(data: bytes) -> list[tuple[str, list[Any]]]:
    """The ``(address, args)`` of every message in a datagram, bundles of bundles flattened, in order.

    Timetags are ignored on purpose: everything is delivered now. Raises MalformedDatagramError.
    """
    try:
        packet = OscPacket(data)
        return [(m.message.address, list(m.message.params)) for m in packet.messages]
    except Exception as exc:  # python-osc raises several types on random bytes (ParseError, IndexError ...)
        raise MalformedDatagramError(f"not OSC: {type(exc).__name__}") from None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def listen_warning(host: str) -> str | None:
    """A warning to print when listening beyond this machine, else None."""
    if is_loopback(host):
        return None
    if host in ("0.0.0.0", "::", ""):
        return (f"warning: OSC listens on every network interface ({host or '0.0.0.0'}): anyone on the network "
                "can send rewards and controls; restrict senders with --osc-allow IP,...")
    return f"warning: OSC listens on {host}, reachable from the network; restrict senders with --osc-allow IP,..."


class OscReceiver:
    """A non-blocking UDP socket bound to ``(host, port)`` (port 0: any free port, see ``address``).

    ``allow``: sender IPs accepted; datagrams from others are refused and counted by the caller.
    Raises OSError when the address cannot be bound.
    """

    def __init__(self, host: str, port: int, allow: list[str] | None = None) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.allow = {str(ipaddress.ip_address(a)) for a in allow} if allow else None
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def fileno(self) -> int:
        return self.sock.fileno()

    def allowed(self, sender_ip: str) -> bool:
        return self.allow is None or sender_ip in self.allow

    def drain(self, limit: int = 512) -> list[tuple[bytes, tuple[str, int]]]:
        """Every datagram waiting (at most ``limit``), as ``(data, (ip, port))``; never blocks."""
        out = []
        for _ in range(limit):
            try:
                data, sender = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. ICMP errors surfacing on some systems: not data, keep going
                continue
            out.append((data, sender[:2]))
        return out

    def close(self) -> None:
        self.sock.close()
