"""Prefect flows: each reads top to bottom as the story of a run."""

from rewards.memory import give_back_freed_memory

give_back_freed_memory()  # a flow run's process: see rewards.memory
