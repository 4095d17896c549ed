"""gemhost: security devices to MQTT."""

__version__ = "0.1.0"
