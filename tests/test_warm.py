"""Warm starts: kernels forked from one server that imported TensorFlow, each serving one student.

The leak test runs two notebooks one after the other on the same warm server: the first changes
everything a process can (globals, patched library functions and classes, builtins, modules,
environment, files in every folder it can write, its working folder's import path), the second
checks each of those is as a fresh kernel has it. Every check is an assert in a cell, so a leak is
a failing cell in the second notebook's evidence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from grader.runner import RunOptions, run_notebook, warm
from grader.runner.options import base_environment
from grader.runner.sandbox import Confinement, Limits, detect

pytestmark = pytest.mark.kernel

LEAKER = [
    "LEAKED_GLOBAL = 'from the first student'",
    "import keras, numpy, builtins, os, sys, tempfile\n"
    "keras.Model.leaked = True\n"
    "keras.layers.Dense.__call__ = lambda self, *a, **k: 'patched'\n"
    "numpy.leaked_module_attribute = 1\n"
    "import string; string.capwords = lambda *a, **k: 'patched'\n"
    "builtins.leaked_builtin = 1\n"
    "os.environ['LEAKED_VARIABLE'] = '1'\n"
    "sys.path.insert(0, '/leaked/path')\n"
    "sys.modules['leaked_module'] = numpy",
    "from pathlib import Path\n"
    "for folder in (Path.cwd(), Path.home(), Path(tempfile.gettempdir()), Path(os.environ['KERAS_HOME'])):\n"
    "    (folder / 'leaked.txt').write_text('from the first student')\n"
    "(Path.cwd() / 'leaked_helper.py').write_text('VALUE = 1')",
    "assert keras.Model.leaked and string.capwords('a b') == 'patched'",
]

CHECKER = [
    "assert 'LEAKED_GLOBAL' not in globals()",
    "import keras, numpy, builtins, os, sys, tempfile\n"
    "assert not hasattr(keras.Model, 'leaked')\n"
    "assert keras.layers.Dense.__call__ is keras.layers.Layer.__call__\n"
    "assert not hasattr(numpy, 'leaked_module_attribute')\n"
    "import string; assert string.capwords('a b') == 'A B'\n"
    "assert not hasattr(builtins, 'leaked_builtin')\n"
    "assert 'LEAKED_VARIABLE' not in os.environ\n"
    "assert '/leaked/path' not in sys.path and 'leaked_module' not in sys.modules",
    "from pathlib import Path\n"
    "for folder in (Path.cwd(), Path.home(), Path(tempfile.gettempdir()), Path(os.environ['KERAS_HOME'])):\n"
    "    assert not (folder / 'leaked.txt').exists(), folder\n"
    "import importlib.util\n"
    "assert importlib.util.find_spec('leaked_helper') is None",
    # The run's own folders, not the server's: the temporary folder and Keras's folder were read
    # again from this run's environment.
    "assert tempfile.gettempdir() == os.environ['TMPDIR']\n"
    "from keras.src.backend import config\n"
    "assert config.keras_home() == os.environ['KERAS_HOME']",
    "import keras\n"
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
    "model.compile('sgd', 'mse')\n"
    "model.fit(numpy.zeros((8, 4)), numpy.zeros((8, 2)), epochs=1, verbose=0)",
]


def notebook(path: Path, cells: list[str]) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells]), path)
    return path


@pytest.fixture(scope="module")
def server():
    if not warm.enabled():
        pytest.skip("warm starts are turned off (CNNGRADER_WARM=0)")
    running = warm.server()
    assert running.wait_ready(), Path(running.log_path).read_text()[-2000:]
    return running


def test_nothing_passes_from_one_students_kernel_to_the_next(server, tmp_path):
    options = RunOptions(cell_timeout=60, submission_timeout=120, quick=True)
    first = run_notebook(notebook(tmp_path / "first.ipynb", LEAKER), options)
    second = run_notebook(notebook(tmp_path / "second.ipynb", CHECKER), options)
    assert [cell.status for cell in first.cells] == ["ok"] * len(LEAKER), [c.error for c in first.cells]
    assert first.meta["kernel_start"] == second.meta["kernel_start"] == "warm"
    failed = {cell.cell: f"{cell.error.ename}: {cell.error.evalue}" for cell in second.cells if cell.status != "ok"}
    assert failed == {}, failed
    assert server.alive() and warm.server() is server  # both were forks of the same server


def test_the_checks_see_a_leak_where_there_is_one(server, tmp_path):
    """The checker run after the leaker in the same kernel: its three leak checks fail, so the
    test above would see a kernel that served two students."""
    options = RunOptions(cell_timeout=60, submission_timeout=120, quick=True)
    both = run_notebook(notebook(tmp_path / "both.ipynb", LEAKER + CHECKER), options)
    statuses = [cell.status for cell in both.cells[len(LEAKER):]]
    assert statuses[:3] == ["error"] * 3, [cell.error for cell in both.cells]


def test_a_warm_run_is_confined_as_a_cold_one(server, tmp_path):
    """The same jail command, warm and cold: the same user, the same view of the machine."""
    probe = ("import os, json, sys; print(json.dumps({'uid': os.getuid(), 'tmp': sorted(os.listdir('/tmp')), "
             "'pid': os.getpid(), 'fds': sorted(int(fd) for fd in os.listdir('/proc/self/fd')), "
             "'cwd': os.getcwd(), 'home': os.environ.get('HOME')}))")
    module = tmp_path / "module"
    module.mkdir()
    (module / "show.py").write_text(probe)
    seen = {}
    for kind in ("warm", "cold"):
        root = Path(tempfile.mkdtemp(prefix="cnngrader-test-"))
        (root / "work").mkdir()
        (root / "work" / "show.py").write_text(probe)
        root.chmod(0o755)
        with Confinement(detect(), root, root / "work", Limits()) as confinement:
            command = confinement.command([sys.executable, "-m", "show"])
            env = {**base_environment(), "HOME": str(root / "work")}
            if kind == "warm":
                process = server.spawn(command[3], command[5:], env, str(root / "work"), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
            else:
                process = subprocess.Popen(command, cwd=root / "work", env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            output = process.stdout.read().decode()
            assert process.wait(timeout=60) == 0, output
            process.stdout.close()
        seen[kind] = {**json.loads(output.strip().splitlines()[-1]), "root": root.name}
    warm_view, cold_view = seen["warm"], seen["cold"]
    assert warm_view["uid"] == cold_view["uid"]
    if detect().namespaces:  # /tmp holds the run's own folder and what holds the grader's installation
        assert warm_view["root"] in warm_view["tmp"] and cold_view["root"] in cold_view["tmp"]
        assert set(warm_view["tmp"]) - {warm_view["root"]} == set(cold_view["tmp"]) - {cold_view["root"]}
    assert warm_view["cwd"].endswith("/work") and warm_view["home"].endswith("/work")
    assert warm_view["fds"] == cold_view["fds"], "the run inherited descriptors of the server's"
    if detect().namespaces:
        assert warm_view["pid"] == cold_view["pid"] == 1 or warm_view["pid"] <= 3


def test_a_killed_warm_run_takes_its_processes_with_it(server, tmp_path):
    root = Path(tempfile.mkdtemp(prefix="cnngrader-test-"))
    (root / "work").mkdir()
    (root / "work" / "sleeper.py").write_text(
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "print('started', flush=True)\n"
        "time.sleep(300)\n")
    root.chmod(0o755)
    with Confinement(detect(), root, root / "work", Limits()) as confinement:
        command = confinement.command([sys.executable, "-m", "sleeper"])
        process = server.spawn(command[3], command[5:], base_environment(), str(root / "work"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert b"started" in process.stdout.readline()
        members = _descendants(process.pid)
        assert len(members) >= 3  # monitor, run, its child
        process.kill()
        assert process.wait(timeout=30) != 0
        process.stdout.close()
        confinement.end()
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in members):
        time.sleep(0.1)
    assert not [pid for pid in members if _alive(pid)]


def _descendants(pid: int) -> list[int]:
    from grader.runner.limits import descendants

    return descendants(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_full_run_records_and_uses_its_gpu(tmp_path):
    """Where a GPU is visible, the kernel sees the one its worker was given, with memory growth."""
    from grader.versions import visible_gpus

    if not visible_gpus():
        pytest.skip("no GPU visible on this machine")
    from grader.exercises import load_spec
    from grader.parallel import Batch, Context

    context = Context(Batch("fashion_cnn", quick=True))
    options = context._options(0, context.options.isolation)
    cells = ["import os, tensorflow as tf\n"
             "assert tf.config.list_physical_devices('GPU'), 'no GPU in the kernel'\n"
             "assert os.environ['TF_FORCE_GPU_ALLOW_GROWTH'] == 'true'"]
    evidence = run_notebook(notebook(tmp_path / "gpu.ipynb", cells), options)
    assert [cell.status for cell in evidence.cells] == ["ok"], [cell.error for cell in evidence.cells]
    assert evidence.meta["device"].startswith("GPU")
    assert load_spec("fashion_cnn")
    context.close()
