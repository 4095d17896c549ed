"""Entry point module of the demo plugin."""

from gemhost.hookspecs import hookimpl
from gemhost_demo.driver import DemoDriver


@hookimpl
def register_drivers(register):
    register(DemoDriver)
