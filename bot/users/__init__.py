"""Users and roles: newcomer (anyone), member, coordinator, admin (from the config)."""

from bot.users.records import Role
from bot.users.service import NotAllowed, UserService

__all__ = ["NotAllowed", "Role", "UserService"]
