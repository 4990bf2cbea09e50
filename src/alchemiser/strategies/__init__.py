"""Strategies turn price history into target weights with reasons: symphony files and Python classes."""
