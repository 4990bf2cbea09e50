"""Composer-style symphonies: reader (text → s-expressions), compiler (→ Program), evaluator (→ weights)."""
