"""The Telegram adapter: thin handlers over the domain; a strict fake Bot API for tests and the sandbox."""
