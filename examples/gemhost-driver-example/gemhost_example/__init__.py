"""gemhost-driver-example: a complete third-party gemhost driver for an alarm I/O box.

Modules: example.yaml (the schema), client (the box's HTTP API), driver, simulator (the box
on loopback), plugin (the gemhost hooks, found through the ``gemhost.plugins`` entry point).
"""
