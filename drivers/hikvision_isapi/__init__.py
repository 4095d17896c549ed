"""Hikvision ISAPI driver: cameras, NVRs and DVRs over HTTP(S), with its simulator.

Modules: channels (ddss ids), xml (defusedxml readers), client (HTTP, auth, error text),
events (alertStream framing), driver, simulator (+ sim_auth,
jpeg), plugin (gemhost hooks).
"""
