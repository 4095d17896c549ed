"""Fails at import, as a plugin with a missing dependency would."""

import gemhost_missing_dependency  # noqa: F401
