"""Experiment tracking: the buffered writer, run capture (environment, git, data) and client."""
