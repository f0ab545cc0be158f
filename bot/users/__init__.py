"""Users and roles: newcomer (anyone), member, coordinator, admin (from the config)."""

from bot.users.service import NotAllowed, Role, UserService

__all__ = ["NotAllowed", "Role", "UserService"]
