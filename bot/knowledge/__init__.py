"""The knowledge base: Markdown resources with YAML front matter, and the métiers (roles.yaml)."""

from bot.errors import Problem
from bot.knowledge.loader import KnowledgeBase, KnowledgeError, Metier, Resource, load_knowledge

__all__ = ["KnowledgeBase", "KnowledgeError", "Metier", "Problem", "Resource", "load_knowledge"]
