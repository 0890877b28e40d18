"""Shared fixtures. The loopback servers and the synthetic model live in tests/support/."""
