"""A plugin package that is broken on purpose: importing its plugin module fails."""
