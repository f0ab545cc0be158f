"""Rate-limited delivery that loses nothing: an outbox in the database, drained by a background sender."""
