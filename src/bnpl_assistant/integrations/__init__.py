"""Faces of the assistant for other frameworks (the top floor: may import from anywhere below; nothing in the
core imports it)."""
