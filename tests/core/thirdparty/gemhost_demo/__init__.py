"""A tiny third-party driver living outside ``drivers/``: proves the entry-point plugin path.

Its behaviour is steered by tests through :data:`BEHAVIOUR` (per device id), so liveness,
hangs, auth failures and events can be exercised through the real host.
"""
