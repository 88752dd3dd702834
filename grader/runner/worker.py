"""Child process for module and saved-model submissions: `python -m grader.runner.worker CONFIG`.

Imports the student's module (or loads the saved model) with the probe installed, calls the
entry points the exercise names, and leaves the evidence JSON where the config says. Every
failure becomes evidence; the exit status only says whether the worker itself ran.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

from . import probe as probe_module


def run_module(probe: probe_module.Probe, path: str, entry_points: list[str]) -> None:
    name = os.path.basename(path)
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # noqa: BLE001 - SystemExit in student code is evidence too
        probe.errors.append({**probe_module.format_exception(error, name), "where": "import"})
        return
    for entry in entry_points:
        function = getattr(module, entry, None)
        if not callable(function):
            probe.entry_points[entry] = "missing"
            continue
        try:
            model = function()
        except BaseException as error:  # noqa: BLE001
            probe.entry_points[entry] = "error"
            probe.errors.append({**probe_module.format_exception(error, name), "where": entry})
            continue
        if probe.keras is not None and issubclass(type(model), probe.keras.Model):
            probe.entry_points[entry] = "ok"
            probe.register(model, origin="entry_point", name=entry)
        else:
            probe.entry_points[entry] = f"returned {'None' if model is None else type(model).__name__}"


def run_saved_model(probe: probe_module.Probe, path: str) -> None:
    problem = _not_a_model_file(path)
    if problem:
        probe.errors.append({"ename": "InvalidModelFile", "evalue": problem, "traceback": "", "where": "load"})
        return
    import keras  # the probe watches it from this import on

    try:
        model = keras.saving.load_model(path)
    except BaseException as error:  # noqa: BLE001
        probe.errors.append({**probe_module.format_exception(error), "where": "load"})
        return
    probe.register(model, origin="loaded", name=os.path.basename(path))


def _not_a_model_file(path: str) -> str | None:
    """Keras says 'File not found' for a .keras file that is not a zip: say what is wrong instead."""
    import zipfile

    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        return "it is not a .keras archive (a .keras file is a zip written by model.save)"
    if path.endswith(".h5"):
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89HDF\r\n\x1a\n":
                return "it is not an HDF5 file (an .h5 file is written by model.save('name.h5'))"
    return None


def main(config_path: str) -> int:
    with open(config_path) as handle:
        config = json.load(handle)
    probe = probe_module.install(config_path)
    sys.path.insert(0, os.path.dirname(config["path"]))
    try:
        if config["kind"] == "module":
            run_module(probe, config["path"], config.get("entry_points", []))
        else:
            run_saved_model(probe, config["path"])
    finally:
        probe.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
