"""The catalogue of every diagnosis a check can emit: code, title, message, hint, audience.

Codes are snake_case, stable and append-only: a code is retired, never reused. Checks create
diagnoses with `diagnose(code, **fields)`; the wording lives here alone, and tests name codes.
Message and hint are `str.format` templates over the fields the check passes in.
"""

from __future__ import annotations

import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One catalogued diagnosis."""

    code: str
    title: str
    message: str
    """What is wrong (and where), as a template over named fields."""
    hint: str
    """How to fix it, as a template over named fields."""
    audience: str = "student"
    """'student' (shown in feedback) or 'instructor' (a problem with the grading set-up)."""
    retired: bool = False
    hint_keras2: str | None = None
    """The hint when the work is graded in Keras 2 mode (the diagnosis's field `keras` is 2), where
    it differs from `hint`."""
    migration: bool = False
    """A Keras 2 habit that Keras 3 rejects: graded in Keras 3 mode, the hint ends with
    `KERAS_2_MODE_NOTE`, since the course may be written for Keras 2."""

    @property
    def depends_on_keras(self) -> bool:
        """Whether the hint depends on the Keras mode, so that the diagnosis carries it (`keras`)."""
        return self.migration or self.hint_keras2 is not None

    def hint_for(self, keras: int) -> str:
        """The hint template for work graded in Keras `keras` mode (2; anything else is 3)."""
        if keras == 2:
            return self.hint if self.hint_keras2 is None else self.hint_keras2
        return f"{self.hint} {KERAS_2_MODE_NOTE}" if self.migration else self.hint


KERAS_2_MODE_NOTE = ("If your course is written for Keras 2, it can be graded in Keras 2 mode (`keras = 2` in "
                     "the exercise, or `cnngrader grade --keras 2`); ask your instructor.")
"""The sentence ending the hint of a Keras 3 migration problem (`Kind.migration`) in Keras 3 mode."""

KINDS = (
    # Errors raised while the submission runs.
    Kind("syntax_error", "Python syntax error",
         "{where} is not valid Python: {error}.",
         "Look at line {line} of that cell: a missing bracket, comma or colon is the usual cause."),
    Kind("name_error", "Undefined name",
         "{where} uses `{name}`, which is not defined at that point.",
         "Define or import `{name}` in an earlier cell{suggestion}, and run the cells in order."),
    Kind("attribute_typo", "Misspelt attribute or module",
         "{where}: `{owner}` has no attribute `{attribute}`.",
         "Did you mean `{suggestion}`? Replace `{attribute}` with `{suggestion}`."),
    Kind("unknown_fit_argument", "Unknown argument",
         "{where}: `{function}()` got an argument it does not know, `{argument}`.",
         "{fix}"),
    Kind("missing_channel_dim", "Images without a channel axis",
         "{where}: a convolution received data with {found} axes where it needs 4 "
         "(batch, height, width, channels).",
         "Give grey images a channel axis: `x = x.reshape(-1, 28, 28, 1)` and "
         "`input_shape=(28, 28, 1)`, not `(28, 28)`."),
    Kind("legacy_save_format", "Save format Keras 3 no longer accepts",
         "{where}: `model.save({path!r})` fails: Keras 3 saves only to `.keras` or `.h5` files.",
         "Save with a file name ending in .keras, e.g. `model.save('{suggested}')`, and load that same file.",
         migration=True),
    Kind("legacy_load_format", "Load format Keras 3 no longer reads",
         "{where}: `load_model({path!r})` fails: Keras 3 loads only `.keras` and `.h5` files, not "
         "a SavedModel folder or a name without an extension.",
         "Save with `model.save('{suggested}')` and load that same file: "
         "`keras.models.load_model('{suggested}')`.",
         migration=True),
    Kind("compile_positional_metrics", "Metrics passed in the wrong position",
         "{where}: `compile({args})` passes {value!r} as the third positional argument, "
         "which Keras 3 reads as `loss_weights`, not `metrics`.",
         "Name the arguments: `compile(optimizer={optimizer!r}, loss={loss!r}, metrics=['accuracy'])`.",
         migration=True),
    Kind("metrics_not_list", "Metrics must be a list",
         "{where}: `compile(..., metrics={value!r})` fails under Keras 3, which wants a list.",
         "Write `metrics=[{value!r}]`.",
         migration=True),
    Kind("sequential_input_undefined", "model.input on a Sequential model",
         "{where}: `{expression}` raises under Keras 3 for a Sequential model, even after "
         "training or reloading.",
         "Use `{replacement}` instead, e.g. `keras.Model(model.inputs, model.layers[0].output)`.",
         migration=True),
    Kind("removed_api", "Keras 2 API removed in Keras 3",
         "{where}: `{old}` no longer exists in Keras 3.",
         "Use `{new}` instead.",
         migration=True),
    Kind("mixed_keras", "Two Kerases mixed",
         "{where}: `{class_name}` comes from `{package}` (Keras {version}), but it is used with "
         "`{model_package}` (Keras {model_version}): a model takes layers, tensors and optimizers of its "
         "own Keras only.",
         "Import Keras one way only, `import keras` (`tensorflow.keras` is the same Keras 3 where your "
         "work is graded), and take every layer, model and optimizer from it, e.g. "
         "`keras.layers.Dense(...)`; import nothing from `tf_keras`.",
         hint_keras2="Import Keras one way only, `from tensorflow import keras` (`import keras` is the "
                     "same Keras 2 where your work is graded, in Keras 2 mode), and take every layer, model "
                     "and optimizer from it, e.g. `keras.layers.Dense(...)`; use nothing from `keras.src` "
                     "or any other Keras 3 object."),
    Kind("missing_module", "Package not available",
         "{where}: `import {module}` fails: that package is not installed where your work is graded.",
         "{fix}"),
    Kind("data_unavailable", "Data file not found",
         "{where}: the file {path!r} is not there when your work is graded.",
         "Load the data with `keras.datasets` (or the files the exercise gives you) instead of a "
         "file on your own computer or Drive."),
    Kind("hard_coded_count", "Number of images written into a reshape",
         "{where}: `reshape` asks for {count:,} images, but the array holds {size:,} values, which is "
         "not {count:,} images of that shape. The data you are graded with may have a different number "
         "of images than your own copy (offline, MNIST is its 8,000 / 2,000 subset).",
         "Let NumPy count the images: `reshape(-1, {rest})`."),
    Kind("runtime_error", "Error in a cell",
         "{where} raised {ename}: {evalue}",
         "Read the error above, fix that cell, then run the notebook from the top (Restart & Run All)."),
    Kind("timeout", "Time limit reached",
         "{where} did not finish within {seconds} seconds and was stopped.",
         "Train for fewer epochs or on fewer images while you develop, and make sure no loop runs forever."),
    Kind("kernel_died", "The Python process died",
         "The process running your work stopped{where} ({reason}).",
         "This usually means it ran out of memory or called exit(); run the notebook top to bottom "
         "yourself to find the cell."),
    Kind("memory_limit", "Memory limit reached",
         "Your work used more than the {limit} of memory allowed{where}.",
         "Use smaller batches, fewer or smaller layers, or avoid keeping copies of the dataset."),
    Kind("disk_limit", "Disk limit reached",
         "{where}: your code wrote more to disk than the {limit} allowed.",
         "Save only the files the exercise asks for: one model file (with a `ModelCheckpoint`, pass "
         "`save_best_only=True` rather than saving every epoch), and no copies of the dataset."),
    Kind("process_limit", "Process limit reached",
         "{where}: your code tried to start more than the {limit} allowed.",
         "Start no processes or threads of your own (`os.fork`, `subprocess`, `multiprocessing`, a "
         "`Thread` per item): one Python process trains the exercise's models."),
    Kind("file_limit", "File too large",
         "{where}: a file your code writes grew past the {limit} allowed for one file.",
         "Write smaller files: save the model once with `model.save('model.keras')`, and do not save "
         "the whole dataset or every prediction to disk."),
    Kind("output_limit", "Output cut",
         "{where} printed more than the {limit} of output the grader keeps of one cell; the rest was dropped.",
         "Nothing is graded on it, but print less: `fit(..., verbose=2)` prints one line per epoch "
         "(`verbose=0` none), and print shapes or summaries rather than whole arrays."),
    Kind("network_unavailable", "No network where work is graded",
         "{where} tried to reach {target} over the network, which is switched off where your work is "
         "graded ({reason}).",
         "Download nothing while the notebook runs: load the data with `keras.datasets` or the files "
         "the exercise gives you, and install no package from the notebook."),
    Kind("invalid_notebook", "Not a readable notebook",
         "{path} cannot be read as a Jupyter notebook: {problem}.",
         "Download the notebook again from Jupyter or Colab (File > Download > .ipynb) and submit that file."),
    Kind("unsupported_submission", "Nothing gradable submitted",
         "{path}: {problem}.",
         "Submit your notebook (.ipynb), your module (.py) or your saved model (.keras)."),
    Kind("missing_entry_point", "Function not found",
         "Your module has no function `{name}()`, which the exercise asks for.",
         "Define `def {name}():` at the top level of the module, returning the model."),
    Kind("unloadable_model", "Saved model cannot be loaded",
         "{path} could not be loaded as a Keras model: {problem}.",
         "Save it with `model.save('model.keras')` in Keras 3 and submit that file."),
    # Architecture.
    Kind("missing_model", "Model not found",
         "No model matching {model} was found{where}.",
         "Build it and keep it in a variable named {names}, and run the cell that builds it."),
    Kind("pooling_collapse", "Feature map shrinks to nothing",
         "{where}: layer `{layer}` ({class_name}) gets a {size_in} map but its window is {window}: the map "
         "collapses to {size_out}. Sizes along the way: {trace}.",
         "Shrink less before it: remove a pooling layer or a stride of 2, use padding='same' in "
         "that layer, or start from a larger input."),
    Kind("shape_mismatch", "Wrong output shape",
         "Layer `{layer}` outputs {actual}, expected {expected}.",
         "{fix}"),
    Kind("param_mismatch", "Wrong number of parameters",
         "Layer `{layer}` has {actual:,} parameters, expected {expected:,}.",
         "{fix}"),
    Kind("setting_mismatch", "Setting differs",
         "{subject} has {setting}={actual!r}, expected {expected!r}.",
         "Set {setting}={expected!r} on {target}."),
    Kind("layer_missing", "Layer missing",
         "A {class_name} layer is missing {position}.",
         "Add `{suggestion}` there."),
    Kind("layer_extra", "Extra layer",
         "Layer `{layer}` ({class_name}) is not in the expected architecture.",
         "Remove it, unless the exercise asks for it."),
    Kind("layer_type_mismatch", "Wrong kind of layer",
         "Layer `{layer}` is of type {actual}; the exercise has {expected} at that position.",
         "Use `{suggestion}` there."),
    Kind("wrong_output_classes", "Wrong number of output classes",
         "The last layer has {actual} outputs but the task has {expected} classes.",
         "End the model with `Dense({expected}, activation='softmax')`."),
    Kind("returned_not_a_model", "Function returns no model",
         "Your module's `{name}()` returned {returned}, not a Keras model.",
         "End `{name}()` with `return model`, where `model` is the model it builds."),
    Kind("model_unreadable", "Model the grader cannot read",
         "{where}: the grader cannot read the layers of {model} from its config ({problem}), so it "
         "cannot check that model.",
         "Build the model with `keras.Sequential([...])` or `keras.Model(inputs, outputs)` from Keras's "
         "own layers with plain settings (numbers for units, filters and sizes), without overriding "
         "`get_config`, then run the notebook from the top."),
    # Trained models: measured by the grader from the weights, never from what the code reports.
    Kind("not_trained", "Model never trained",
         "`{name}`, {model}, still has the weights it was created with: no `fit` changed them.",
         "Call `{name}.fit(...)` on the training images before you evaluate or save it."),
    Kind("accuracy_below_threshold", "Accuracy below the pass mark",
         "Measured by the grader on {images}, {model} scores {value}; the pass mark is {pass_mark} "
         "and points fall to nothing at {floor}. The reference solution scored {band}.",
         "Train for more epochs, scale the pixels to 0..1 (`/ 255.0`), and let early stopping restore "
         "the best weights (`EarlyStopping(patience=2, restore_best_weights=True)`)."),
    Kind("lambda_layer", "Lambda layer the grader will not load",
         "The `Lambda` layer `{layer}` of {model} holds Python code, so the grader "
         "refuses to load it and cannot measure the model.",
         "Use a built-in layer instead: `keras.layers.Rescaling(1 / 255)` does the usual job of a "
         "scaling Lambda; or scale the data before `fit`."),
    Kind("custom_object", "Layer class defined in the notebook",
         "Layer `{layer}` of {model} is a `{class_name}`, a class defined in your code, which the "
         "grader cannot load outside your notebook.",
         "Build the model from Keras's own layers (`keras.layers.*`) so the saved file loads anywhere."),
    Kind("reload_mismatch", "Reloaded file is not the trained model",
         "{where}: {path!r} holds {what}.",
         "Save the model after (or while) it trains, e.g. with "
         "`keras.callbacks.ModelCheckpoint({path!r}, save_best_only=True)` passed to `fit`, and load "
         "that same file."),
    Kind("missing_artifact", "Model file never written",
         "{where}: the file {path!r} of {model} was never written by your code.",
         "Save the model with `model.save({path!r})` (or a `ModelCheckpoint` to that name) before "
         "loading or uploading it."),
    Kind("not_reloaded", "Saved model never loaded back",
         "Your code never loads a saved copy of {model} back (the exercise reloads {file}).",
         "Load it with `model = keras.models.load_model({file!r})` and check it gives the same results."),
    Kind("missing_upload", "Model file not handed in",
         "The file {path!r} of {model} was not handed in beside your notebook, so the grader cannot "
         "measure the model you trained.",
         "Upload {path!r}, the file your notebook writes when it runs in full, in the same folder as "
         "the notebook."),
    Kind("artifact_mismatch", "Uploaded file is another model",
         "The uploaded file {path!r} holds another architecture than the model your notebook saves "
         "there ({what}); its accuracy does not count.",
         "Upload the file your notebook writes when it runs in full, without changing the model afterwards."),
    Kind("base_not_reloaded", "Transfer model built on the extractor in memory",
         "{where}: `{model}` is built on `{base}`, the extractor still in memory, not on the one "
         "loaded back from the file it was saved to.",
         "Load the saved extractor (`base = keras.models.load_model('shared_model.keras')`) and build "
         "the fine-class model on `base`."),
    Kind("base_not_frozen", "Transferred extractor not frozen",
         "{where}: `{model}` trains `{base}` too, so the coarse-class features are overwritten.",
         "Set `{base}.trainable = False` before you build and compile `{model}`."),
    Kind("missing_baseline", "No from-scratch baseline",
         "No model of the same architecture as `{model}` was trained from scratch, so the gain of "
         "transfer cannot be measured.",
         "Build the same model on a fresh extractor (`add_head(shared_function(), n_sub)`) and train it "
         "exactly as `{model}`."),
    Kind("unfair_baseline", "Baseline trained on another budget",
         "{where}: `{baseline}` trained for {theirs}, `{model}` for {ours}: the comparison is not fair.",
         "Train both with the same data, batch size and epochs."),
    Kind("no_transfer_gain", "Transfer gains too little",
         "Transfer learning scores {transfer} and the from-scratch model {scratch} on the fine classes, "
         "both measured by the grader: a gain of {gain}, below the pass mark of {pass_mark}.",
         "Train the extractor on the coarse classes before you save it, save it after that training, "
         "and reload that file for the fine-class model."),
    Kind("accuracy_order", "Models do not rank as expected",
         "Measured by the grader: {measured}. The exercise expects {expected}.",
         "Train each model as the exercise says (same data, enough epochs) before comparing them."),
    Kind("missing_callback", "Callback missing",
         "{where}: `fit` is not given a `{class_name}` callback.",
         "Create it (`{constructor}`) and pass it in `fit(..., callbacks=[...])`."),
    Kind("feature_map_model_missing", "No model returns the feature maps",
         "No model built to show activations returns the feature maps {shapes} of {model}.",
         "Build one on the trained model: `keras.Model({name}.inputs, {name}.layers[i].output)` returns "
         "the maps of layer i (0 is the first convolution); pass a list of outputs to get several."),
    Kind("grader_error", "The grader failed",
         "The grader itself failed while grading {path}: {problem}.",
         "This is a bug in cnngrader, not in the submission: report it with this message; the "
         "submission's score is not final.",
         audience="instructor"),
    Kind("no_evidence", "The grader could not watch the run",
         "The grader's probe reported nothing from the submission's process: {problem}.",
         "Check that cnngrader is installed in the Python the notebook kernel runs (the 'python3' "
         "kernelspec), then grade again; the student's models could not be examined.",
         audience="instructor"),
    Kind("evaluation_timeout", "The evaluation ran out of time",
         "The grader's evaluation process did not finish within {seconds} seconds, so the checks that "
         "need predictions were not graded.",
         "Raise `evaluation_timeout` in the exercise spec, or grade on a machine with more cores; the "
         "rest of the grade stands.",
         audience="instructor"),
    Kind("not_evaluated", "A model was not evaluated",
         "The evaluation process returned nothing for {what}.",
         "Look at the evaluation log; the submission's other checks stand.",
         audience="instructor"),
    Kind("not_recomputed", "Layer the grader cannot check",
         "The grader cannot recompute layer(s) {layers} from the config; their shapes and counts "
         "are as reported by your code.",
         "Nothing to fix unless the exercise asks for standard layers only.",
         audience="instructor"),
)

CATALOGUE: dict[str, Kind] = {kind.code: kind for kind in KINDS}

CONSEQUENCE_NOTE = ("Because of this, {cells} failed too: {they} names this cell was to define. "
                    "Fix this cell first; they should then run.")
"""The sentence under a root cause, naming the cells that failed only because of it."""


@dataclass(frozen=True)
class Diagnosis:
    """One finding about a submission: a catalogued code with the fields of its message."""

    code: str
    """Stable code from the catalogue (`pooling_collapse`)."""
    fields: tuple[tuple[str, object], ...] = ()
    """The values the message and hint templates are filled with."""
    cell: int | None = None
    """1-based number of the code cell it points at, when it points at one."""
    layer: str | None = None
    """Name of the layer it points at, when it points at one."""
    detail: str | None = None
    """Original error text or other raw evidence, for the instructor."""
    line: int | None = None
    """1-based line in that cell (or module) where the problem is, when known."""
    consequences: tuple[int, ...] = ()
    """Cells that failed only because this one did (they use names it was to define): shown under
    this diagnosis, not as problems of their own."""

    @property
    def kind(self) -> Kind:
        return CATALOGUE[self.code]

    @property
    def message(self) -> str:
        return _fill(self.kind.message, self)

    @property
    def hint(self) -> str:
        return _fill(self.kind.hint_for(self.field("keras", 3)), self)

    @property
    def consequence_note(self) -> str | None:
        """One sentence naming the cells that failed because of this one; None when there are none."""
        if not self.consequences:
            return None
        cells = [str(cell) for cell in self.consequences]
        listed = cells[0] if len(cells) == 1 else ", ".join(cells[:-1]) + " and " + cells[-1]
        return CONSEQUENCE_NOTE.format(cells=("cell " if len(cells) == 1 else "cells ") + listed,
                                       they="it uses" if len(cells) == 1 else "they use")

    def field(self, name: str, default=None):
        """A template field's value; `cell`, `layer` and `line` are attributes of their own."""
        if name in ("cell", "layer", "line"):
            value = getattr(self, name)
            return default if value is None else value
        return dict(self.fields).get(name, default)

    def to_json(self) -> dict:
        data = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.cell is not None:
            data["cell"] = self.cell
        if self.layer is not None:
            data["layer"] = self.layer
        if self.line is not None:
            data["line"] = self.line
        if self.consequences:
            data["consequences"] = list(self.consequences)
            data["consequence_note"] = self.consequence_note
        if self.detail:
            data["detail"] = self.detail
        return data


def diagnose(code: str, *, cell: int | None = None, layer: str | None = None,
             detail: str | None = None, line: int | None = None, **fields) -> Diagnosis:
    """Create a diagnosis; an unknown code or a missing template field is our bug, raised now."""
    if code not in CATALOGUE:
        raise KeyError(f"diagnosis code {code!r} is not in the catalogue")
    kind = CATALOGUE[code]
    if kind.retired:
        raise KeyError(f"diagnosis code {code!r} is retired")
    fields.setdefault("where", f"Cell {cell}" if cell is not None else "Your code")
    all_fields = {"cell": cell, "layer": layer, "line": line, **fields}
    for template in (kind.message, kind.hint_for(2), kind.hint_for(3)):
        missing = _template_fields(template) - set(all_fields)
        if missing:
            raise KeyError(f"{code}: missing field(s) {sorted(missing)}")
    return Diagnosis(code, tuple(sorted(fields.items())), cell, layer, detail, line)


def _template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _fill(template: str, diagnosis: Diagnosis) -> str:
    return template.format(cell=diagnosis.cell, layer=diagnosis.layer, line=diagnosis.line,
                           **dict(diagnosis.fields))


def where_in_cell(cell: int | None, line: int | None = None, file: str | None = None) -> str:
    """'Cell 4', 'Cell 4, line 2' or 'solution.py, line 12': where a student should look."""
    if file:
        return f"{file}, line {line}" if line else file
    if cell is None:
        return "Your code"
    return f"Cell {cell}, line {line}" if line else f"Cell {cell}"


def catalogue_markdown() -> str:
    """The docs table (docs/diagnoses.md is generated from this)."""
    lines = ["| code | title | audience | message | hint |", "|---|---|---|---|---|"]
    for kind in KINDS:
        if kind.retired:
            continue
        message = kind.message.replace("|", "\\|")
        hint = _hint_cell(kind).replace("|", "\\|")
        lines.append(f"| `{kind.code}` | {kind.title} | {kind.audience} | {message} | {hint} |")
    return "\n".join(lines) + "\n"


def _hint_cell(kind: Kind) -> str:
    """The hint as the docs table shows it: with what Keras 3 mode adds, or each mode's hint."""
    if kind.hint_keras2 is not None:
        return f"Keras 3 mode: {kind.hint_for(3)}<br>Keras 2 mode: {kind.hint_for(2)}"
    if kind.migration:
        return f"{kind.hint} (Keras 3 mode adds: {KERAS_2_MODE_NOTE})"
    return kind.hint


if __name__ == "__main__":
    # python -m grader.diagnoses > docs/diagnoses.md
    print("# Diagnoses\n\nEvery code the grader emits, generated from `grader/diagnoses.py`. "
          "Fields in braces are filled in by the check.\n")
    print(catalogue_markdown(), end="")
