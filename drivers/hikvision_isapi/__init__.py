"""Hikvision ISAPI driver: cameras, NVRs and DVRs over HTTP(S), with its simulator.

Modules: channels (ddss ids), kernel (ISAPI XML, ResponseStatus, bodies, times; shared with
HPP's transparent channel), client (HTTP, auth, error text), events (alertStream framing),
driver, simulator (a sub-package: auth, alerts, stream, documents, fixture), plugin (gemhost hooks).
"""
