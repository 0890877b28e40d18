"""Nashra: Arabic news feeds, translated offline, delivered as Telegram digests."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/nashra-bot/nashra"
# The one User-Agent default: the config's fetch.user_agent and the fetch stage's own.
USER_AGENT = f"Nashra/{__version__} (+{PROJECT_URL})"
