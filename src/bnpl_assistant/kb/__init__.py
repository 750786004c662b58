"""The knowledge base: topics and articles as typed records, and their validation."""

from bnpl_assistant.kb.articles import Article, load_articles
from bnpl_assistant.kb.topics import Topic, TopicCatalog, load_topics

__all__ = ["Article", "Topic", "TopicCatalog", "load_articles", "load_topics"]
