"""Prefect tasks: thin wrappers over the Prefect-free core, one step each."""
