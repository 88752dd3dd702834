"""The student self-check as a pytest plugin (registered with the `pytest11` entry point)."""
