"""The UDP socket OSC arrives on, and the parsing of one datagram into messages (python-osc's
message parser, our own bundle framing).

We own the socket rather than use python-osc's servers: a datagram that does not parse must be counted
(python-osc drops it silently), bundle timetags must never delay delivery (a sensor whose clock runs
ahead of the laptop would stall python-osc's dispatcher), and one thread per datagram is too many.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import time
from typing import Any

from pythonosc.osc_message import OscMessage

RCVBUF_BYTES = 4 * 1024 * 1024  # ~10 s of two 200 Hz sensors; the kernel may clamp it to rmem_max
MAX_DATAGRAM = 65536
# Linux's SO_TIMESTAMPNS (not exported by Python's socket module): the kernel stamps each datagram when
# it arrives, so the latency we measure includes any wait in the socket buffer.
SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None
_TIMESPEC = struct.Struct("@qq")
MAX_BUNDLE_DEPTH = 8  # bundles of bundles; deeper is an attack, not a sensor


class MalformedDatagramError(ValueError):
    """A datagram that is not an OSC message or bundle."""


def _walk_bundle(data: bytes, depth: int, out: list[tuple[str, list[Any]]]) -> int:
    """Append the messages of a bundle (and of the bundles inside it) to ``out``; returns how many
    elements were unusable. Timetags are read past and ignored."""
    if depth > MAX_BUNDLE_DEPTH or len(data) < 16:
        return 1
    bad = 0
    index = 16  # "#bundle\0" and the 8-byte timetag
    while index < len(data):
        if index + 4 > len(data):
            return bad + 1
        size = int.from_bytes(data[index:index + 4], "big", signed=True)
        index += 4
        if size <= 0 or index + size > len(data):
            return bad + 1  # a size that lies: the rest of the bundle cannot be framed
        element = data[index:index + size]
        index += size
        if size % 4:
            bad += 1  # OSC elements are padded to 4 bytes: this one was cut or is not OSC
        elif element.startswith(b"#bundle\0"):
            bad += _walk_bundle(element, depth + 1, out)
        elif element[:1] == b"/":
            try:
                m = OscMessage(element)
                out.append((m.address, list(m.params)))
            except Exception:
                bad += 1
        else:
            bad += 1
    return bad


def parse_datagram(data: bytes) -> tuple[list[tuple[str, list[Any]]], int]:
    """The ``(address, args)`` of every message in a datagram, bundles of bundles flattened, in order,
    and the number of unusable bundle elements.

    Timetags are ignored on purpose: everything is delivered now. Messages are parsed by python-osc;
    bundles are framed here because python-osc skips a bad bundle element with only a log line, and we
    must count it. Raises MalformedDatagramError when nothing in the datagram is usable.
    """
    messages: list[tuple[str, list[Any]]] = []
    if data.startswith(b"#bundle\0"):
        bad = _walk_bundle(data, 0, messages)
        if bad and not messages:
            raise MalformedDatagramError("not OSC: a bundle with no usable element")
        return messages, bad
    if data[:1] == b"/":
        if len(data) % 4:
            # an OSC packet is always a multiple of 4 bytes; python-osc would read a cut float as another value
            raise MalformedDatagramError("not OSC: its size is not a multiple of 4 bytes (cut in transit?)")
        try:
            m = OscMessage(data)
        except Exception as exc:  # python-osc raises several types on random bytes (ParseError, IndexError ...)
            raise MalformedDatagramError(f"not OSC: {type(exc).__name__}") from None
        return [(m.address, list(m.params))], 0
    raise MalformedDatagramError("not OSC: neither a message nor a bundle")


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
        self.kernel_timestamps = False
        if SO_TIMESTAMPNS is not None:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                self.kernel_timestamps = True
            except OSError:
                pass
        self.allow = {str(ipaddress.ip_address(a)) for a in allow} if allow else None
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def fileno(self) -> int:
        return self.sock.fileno()

    def allowed(self, sender_ip: str) -> bool:
        if self.allow is None:
            return True
        return _plain_ip(sender_ip) in self.allow or sender_ip in self.allow

    def drain(self, limit: int = 512) -> list[tuple[bytes, tuple[str, int], float]]:
        """Every datagram waiting (at most ``limit``), as ``(data, (ip, port), t)``; never blocks.

        ``t`` is the arrival time on the ``time.monotonic()`` clock: the kernel's stamp where available,
        else the time it was read.
        """
        out = []
        # The kernel stamps in wall-clock time; this offset brings the stamps onto the monotonic clock.
        offset = time.monotonic() - time.time()
        for _ in range(limit):
            try:
                data, ancdata, _flags, sender = self.sock.recvmsg(MAX_DATAGRAM, 64)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. ICMP errors surfacing on some systems: not data, keep going
                continue
            t = time.monotonic()
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= _TIMESPEC.size:
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    # Never later than now: a wall-clock step (NTP) must not give negative latencies.
                    t = min(t, sec + nsec * 1e-9 + offset)
            out.append((data, sender[:2], t))
        return out

    def close(self) -> None:
        self.sock.close()


def _plain_ip(text: str) -> str:
    """The sender's address as written in an allow list: an IPv4-mapped IPv6 address becomes IPv4."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped or addr)
