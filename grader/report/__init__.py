"""Reporters: render results, compute nothing."""
