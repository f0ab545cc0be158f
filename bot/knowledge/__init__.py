"""The knowledge base: Markdown resources with YAML front matter, and the métiers (roles.yaml)."""

from bot.knowledge.loader import KnowledgeBase, KnowledgeError, Problem, Resource, Role, load_knowledge

__all__ = ["KnowledgeBase", "KnowledgeError", "Problem", "Resource", "Role", "load_knowledge"]
