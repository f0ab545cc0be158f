"""One module per feature, each exposing `register(application)`. A feature imports only the shared modules
of `bot.telegram` (context, replies, render, callbacks, transport, updates), never another feature; a
feature may be a package of several modules (events, announcements)."""
