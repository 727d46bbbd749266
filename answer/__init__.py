"""Placeholder for the answer stage (built by a later issue)."""
