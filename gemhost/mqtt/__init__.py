"""MQTT bridge."""
