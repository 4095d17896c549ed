"""hikcentral driver."""
