"""Nashra: Arabic news feeds, translated offline, delivered as Telegram digests."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/nashra-bot/nashra"
