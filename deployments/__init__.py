"""Deployments: how flows are served, scheduled and triggered."""
