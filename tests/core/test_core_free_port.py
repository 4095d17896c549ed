"""gemhost.testing.free_port: ports a test can bind later, which no outgoing connection of
the suite can take meanwhile (CI once lost a simulator's port to one)."""

from __future__ import annotations

import socket

from gemhost.testing import FREE_PORTS, free_port, free_port_in


def _ephemeral_range() -> tuple[int, int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(x) for x in f.read().split())
    return low, high


def test_ports_are_distinct_bindable_and_outside_the_ephemeral_range():
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # never the same port twice in one process
    if low > FREE_PORTS[0]:
        assert all(FREE_PORTS[0] <= p < low for p in ports)
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # still free


def _three_free_ports() -> tuple[int, list[socket.socket]]:
    """Three consecutive ports of FREE_PORTS, bound here (so nothing else has them)."""
    for base in range(FREE_PORTS[0], FREE_PORTS[1] - 2, 3):
        socks = []
        try:
            for port in range(base, base + 3):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base, socks
        except OSError:
            for sock in socks:
                sock.close()
    raise AssertionError("no three free ports in a row")


def test_a_range_gives_each_free_port_once_then_none():
    base, socks = _three_free_ports()
    socks[0].close()
    socks[2].close()
    held = socks[1]  # base + 1 stays bound: never handed out
    held.listen()
    try:
        taken: set[int] = set()
        got = {free_port_in(base, base + 2, taken) for _ in range(2)}
        assert got == {base, base + 2}  # the two free ones, once each
        assert free_port_in(base, base + 2, taken) is None  # the range is used up
    finally:
        held.close()
