"""Human channel numbers <-> ISAPI stream ids, and event channel ids -> zone addresses.

Users only ever write the human channel number (1, 2, 3, ...). ISAPI addresses a *stream*
as ``<channel><stream two digits>`` ("ddss"): channel 1 main = 101, channel 1 sub = 102,
channel 2 main = 201, channel 18 main = 1801. NVRs number their IP ("dynamic") channels the
same way, by the InputProxy channel id.

Events are different: some NVR firmware (DS-7608NXI-I2, V4.6x) reports an IP channel in
``channelID`` with the legacy SDK offset of 32 (the first 32 numbers were reserved for analog
inputs), so the second IP channel arrives as 34. ``dynChannelID``, when present, is already
the InputProxy id.
"""

from __future__ import annotations

STREAM_SUFFIX = {"main": 1, "sub": 2}
IP_CHANNEL_OFFSET = 32


def stream_id(address: int, stream: str = "main") -> int:
    """The ddss stream id of a human channel number (1, "main") -> 101."""
    if address < 1:
        raise ValueError(f"channel number must be 1 or more, got {address}")
    try:
        return address * 100 + STREAM_SUFFIX[stream]
    except KeyError:
        raise ValueError(f"stream must be main or sub, got {stream!r}") from None


def split_stream_id(sid: int) -> tuple[int, int]:
    """(human channel number, stream number) of a ddss id: 201 -> (2, 1), 1804 -> (18, 4)."""
    return sid // 100, sid % 100


def rtsp_url(host: str, address: int, stream: str = "main", port: int = 554) -> str:
    """The usual RTSP URL of a channel, deliberately without credentials (it gets published)."""
    host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"rtsp://{host_part}:{port}/Streaming/Channels/{stream_id(address, stream)}"


def event_address(channel_id: int | None, dyn_channel_id: int | None,
                  ip_channel_ids: list[int] | None = None) -> int | None:
    """The human channel number an EventNotificationAlert refers to, or None (device level).

    ``dynChannelID`` wins when present. A ``channelID`` above 32 that is not itself one of
    the recorder's channels is the n-th IP channel (n = channelID - 32); when the InputProxy
    ids are known the n-th of them is the address (a hybrid DVR's IP channels come after its
    analog inputs), else n itself. A 64-channel NVR that reports channel 40 as 40 keeps it.
    """
    if dyn_channel_id is not None and dyn_channel_id > 0:
        return dyn_channel_id
    if channel_id is None or channel_id <= 0:
        return None
    known = ip_channel_ids or []
    if channel_id > IP_CHANNEL_OFFSET and channel_id not in known:
        nth = channel_id - IP_CHANNEL_OFFSET
        ids = sorted(known)
        if 0 < nth <= len(ids):
            return ids[nth - 1]
        return nth
    return channel_id
