"""Placeholder for the retrieve stage (built by a later issue)."""
