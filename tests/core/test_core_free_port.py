"""gemhost.testing.free_port: ports a test can bind later, which no outgoing connection of
the suite can take meanwhile (CI once lost a simulator's port to one)."""

from __future__ import annotations

import socket

from gemhost.testing import FREE_PORTS, free_port


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
