"""catabot: the assistant of the Réseau des catalyseurs territoriaux."""

__version__ = "0.1.0"
