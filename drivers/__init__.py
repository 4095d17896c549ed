"""gemhost's built-in drivers, installed as ``gemhost_drivers``; one sub-package per vendor API.

Nothing in the host imports these by name: each registers through the ``gemhost.plugins``
entry point group, exactly like a third-party driver.
"""
