"""Multi-step chat flows kept in the database: a restart or another instance continues them."""

from bot.conversations.service import FLOW_EXPIRY, ConversationService, Flow

__all__ = ["FLOW_EXPIRY", "ConversationService", "Flow"]
