"""Checks: pure functions from (spec, expectations, evidence) to results. No Keras, no I/O."""
