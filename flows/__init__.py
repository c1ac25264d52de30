"""Prefect flows: each reads top to bottom as the story of a run."""
