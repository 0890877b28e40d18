"""Shared fixtures. The loopback servers and the synthetic model live in tests/support/."""
from support.fake_telegram import fake_telegram  # noqa: F401
from support.feed_server import feed_server  # noqa: F401
from support.synthetic_model import argos_package, argos_package_factory  # noqa: F401
