"""Where no capture, vendor document or public client shows the wire, this driver assumes; all
such assumptions live here (docs/drivers/hikvision_isapi.md marks each as "assumption").

- ``IO_PROXY_STRIDE``: an NVR's ``dynInputIOPortID`` is ``<channel>0<input>`` (IO-101, IO-301 in
  the DS-7616NI-K2 and DS-7608NXI-I2 Event/triggers captures), i.e. the alarm input of the IP
  camera on that channel. The captures show the numbers, not their meaning.
- ``DEVICE_STATUS_FIELDS``: the simulator's ``/ISAPI/System/status`` is a DeviceStatus with the
  device time and uptime; no capture has that path, and the clients that call it
  (hikvisionapi, hikvision_next's config flow) only need a 200.
- ``REFUSAL_IS_RESPONSE_STATUS``: the simulator answers a failed login and a locked account with
  an XML ResponseStatus (``notAuthenticated``, ``userLocked``); firmware varies (an NVR's XML
  ``userCheck`` in hikvision_next issue #50), while the plain challenge's HTML body is sourced
  (pyHik issue #15).
- ``NAIVE_TIME_IS_HOST_LOCAL``: a ``dateTime`` without a UTC offset is read in the host's
  time zone (the device's own zone is not in the alert).
"""

from __future__ import annotations

IO_PROXY_STRIDE = 100
DEVICE_STATUS_FIELDS = ("currentDeviceTime", "deviceUpTime")
REFUSAL_IS_RESPONSE_STATUS = True
NAIVE_TIME_IS_HOST_LOCAL = True
