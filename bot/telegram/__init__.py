"""The Telegram side of Nashra: application, handlers, scheduled jobs and delivery."""
