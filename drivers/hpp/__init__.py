"""hpp driver."""
