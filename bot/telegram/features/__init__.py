"""One module per feature, each exposing `register(application)`. A feature imports only the shared modules
of `bot.telegram` (context, replies, render, callbacks, transport), never another feature."""
