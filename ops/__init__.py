"""Operator tools that run outside Lambda: checks against the real platforms."""
