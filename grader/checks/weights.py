"""What the weight fingerprints say: were a model's weights ever trained, and which weights did
a file receive. Pure functions over the probe's `WeightEvent`s, in the order they happened."""

from __future__ import annotations

from ..evidence import Evidence, WeightEvent

TRAINED_EVENTS = ("epoch_end", "fit_end")


def graded_digest(evidence: Evidence, model_id: int) -> str | None:
    """The digest of the weights the model had at the end of the run (its export)."""
    events = evidence.weight_events(model_id)
    return events[-1].digest if events else None


def initial_digests(evidence: Evidence) -> set[str]:
    """Weights some model was created with, before any fit changed them."""
    return {event.digest for event in evidence.weights if event.event == "initial"}


def trained_digests(evidence: Evidence, model_id: int | None = None) -> set[str]:
    """Weights a model (or any model) had at the end of an epoch or of a fit."""
    return {event.digest for event in evidence.weights
            if event.event in TRAINED_EVENTS and (model_id is None or event.model_id == model_id)}


def never_trained(evidence: Evidence, model_id: int) -> bool:
    """The weights graded are ones a model was created with, and no fit ever produced them."""
    digest = graded_digest(evidence, model_id)
    if digest is None:
        return not any(fit.model_id == model_id for fit in evidence.fits)
    return digest in initial_digests(evidence) and digest not in trained_digests(evidence)


def last_save_before(evidence: Evidence, load: WeightEvent) -> WeightEvent | None:
    """The save that last wrote the file a load read, before that load."""
    index = evidence.weights.index(load)
    for event in reversed(evidence.weights[:index]):
        if event.event == "save" and same_file(event.path, load.path):
            return event
    return None


def same_file(first: str | None, second: str | None) -> bool:
    if not first or not second:
        return False
    return normalise_path(first) == normalise_path(second)


def normalise_path(path: str) -> str:
    return path.replace("\\", "/").removeprefix("./").rstrip("/")
