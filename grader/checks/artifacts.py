"""Which model files the evaluation process predicts with: the models a run exported, and in
--artifacts mode the files a student uploaded, each matched to the role it answers.

Pure: paths and evidence in, names out; nothing here reads a file.
"""

from __future__ import annotations

from pathlib import Path

from ..layers import LayerTable, UnreadableConfig, output_layers, table_from_config
from .context import Grading
from .weights import normalise_path


def evaluated_models(grading: Grading, export_dir: Path) -> dict[str, Path]:
    """`model-<id>` -> exported file, for every exported model that may end in one row of class
    scores: a model whose output shape the grader cannot recompute (a Lambda layer stops the shape
    arithmetic) is sent too, so that the evaluation can say why Keras refuses it."""
    files = {}
    for export in grading.evidence.exports:
        table = grading.tables.get(export.model_id)
        shape = table.output_shape if table is not None else None
        record = grading.evidence.record(export.model_id)
        if export.file is None or (shape is not None and len(shape) != 2) or _outputs(record) > 1:
            continue
        files[f"model-{export.model_id}"] = export_dir / export.file
    return files


def artifact_files(grading: Grading, uploaded: tuple[Path, ...]) -> tuple[dict, dict, dict[str, Path]]:
    """(role -> key of its uploaded file, role -> the file name expected but not uploaded,
    key -> path to evaluate) for every role the spec grades by accuracy."""
    by_name = {path.name: path for path in uploaded}
    artifacts, missing, files = {}, {}, {}
    graded = {check.model for check in grading.spec.checks if check.id == "accuracy"}
    for model in grading.spec.models:
        if model.key not in graded:
            continue
        name = model.artifact or saved_file_of(grading, model.key)
        if name is None:
            missing[model.key] = f"the file your notebook saves {model.title} to"
        elif name in by_name:
            key = f"artifact-{name}"
            artifacts[model.key], files[key] = key, by_name[name]
        else:
            missing[model.key] = name
    return artifacts, missing, files


def saved_file_of(grading: Grading, role: str) -> str | None:
    """The name of the last file the role's model was saved to in the run."""
    found = grading.found.get(role)
    if found is None:
        return None
    paths = [save.get("path") for save in grading.evidence.saves
             if save.get("model_id") == found.record.id and save.get("ok") and save.get("path")]
    return Path(normalise_path(paths[-1])).name if paths else None


def artifact_table(config: dict | None) -> LayerTable | None:
    """The layer table of an uploaded file, from the config read out of it."""
    if not config:
        return None
    try:
        return table_from_config(str(config.get("class_name", "Sequential")), config["config"])
    except (KeyError, UnreadableConfig):
        return None


def _outputs(record) -> int:
    """How many outputs a functional model's config names (an activation model has several)."""
    outputs = output_layers(record.config or {}) if record is not None else None
    return 1 if outputs is None else len(outputs)
