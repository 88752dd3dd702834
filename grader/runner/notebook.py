"""Run a student's notebook in a fresh kernel and bring back evidence.

The notebook is parsed and validated with nbformat (an unreadable one becomes evidence with
`invalid` set), stripped of stored outputs, and executed cell by cell with nbclient in a kernel
of its own, in a temporary folder that holds only the notebook's copy and the data the exercise
provides. Errors are allowed, so every cell runs and each failing cell is recorded. A hidden
first cell installs the probe; a hidden cell before each student cell tells it the cell number.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..evidence import CellError, CellRun, Evidence, strip_ansi
from .limits import CappedReader, MemoryWatch, format_bytes, kill_tree
from . import warm
from .options import RunOptions, evidence_fields, read_probe_payload, submission_environment

MAX_NOTEBOOK_BYTES = 20 * 2**20
KERNEL_NAME = "cnngrader-python3"
INTERNAL = "# cnngrader internal\n"


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook, or None and a plain-words reason it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, f"the file cannot be read ({error.strerror})"
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return None, f"it is {len(raw) / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB limit"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        return None, f"it is not valid JSON ({getattr(error, 'msg', 'too deeply nested')})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, "it is JSON but has no list of cells"
    major = data.get("nbformat")
    if major != 4:
        return None, f"it has notebook format {major!r}; only format 4 is read"
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except (nbformat.ValidationError, ValueError, KeyError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, f"it does not follow the notebook format ({message[:200]})"
    return notebook, None


def run_notebook(path: Path, options: RunOptions, export_dir: Path | None = None) -> Evidence:
    notebook, problem = read_notebook(path)
    if notebook is None:
        return Evidence(kind="notebook", invalid=problem)
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    with options.workspace(path, export_dir) as workspace:
        return _execute(sources, workspace, options, export_dir)


def _execute(sources: list[str], workspace, options: RunOptions, export_dir: Path | None) -> Evidence:
    program = [INTERNAL + f"from grader.runner import probe as __cnngrader_probe\n"
               f"__cnngrader_probe.install({str(workspace.probe_config)!r})"]
    for number, source in enumerate(sources, start=1):
        program += [INTERNAL + f"__cnngrader_probe.active().at_cell({number})", source]
    token = secrets.token_hex(16)
    program.append(INTERNAL + f"__cnngrader_probe.active().finish({token!r})")
    executable = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in program])
    executable.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

    deadline = time.monotonic() + options.submission_timeout
    with options.confinement(workspace, export_dir) as confinement:
        client = LimitedClient(
            executable, km=pinned_kernel_manager(workspace.evidence_path.parent, confinement), kernel_name=KERNEL_NAME,
            timeout=int(options.cell_timeout), allow_errors=True,
            interrupt_on_timeout=True, startup_timeout=120, record_timing=False,
            resources={"metadata": {"path": str(workspace.folder)}},
        )
        client.limit(options.max_output_bytes, options.interrupt_grace)
        client.timeout_func = lambda cell: max(1, int(min(options.cell_timeout, deadline - time.monotonic())))
        runs: list[CellRun] = []
        stopped, detail, stopped_cell, peak, setup_seconds, probe_error = None, "", None, 0, 0.0, None
        started = kernel_ready = time.monotonic()
        read_end, write_end = os.pipe()
        kernel_log = CappedReader(read_end, keep=4096)
        kernel_pid, start = -1, "cold"
        try:
            with _explained_start(client.setup_kernel(env=submission_environment(workspace, options),
                                                      stdout=write_end, stderr=write_end), kernel_log):
                os.close(write_end)
                write_end = -1
                kernel_pid = _kernel_pid(client)
                start = "warm" if isinstance(client.km.provisioner.process, warm.WarmProcess) else "cold"
                client.kill = lambda: _kill_kernel(client, kernel_pid)
                watch = MemoryWatch(warm.watched_pid(client.km.provisioner.process), options.memory_limit_bytes,
                                    folders=(workspace.root, *([export_dir] if export_dir else [])),
                                    disk_limit=options.max_disk_bytes)
                with watch:
                    kernel_ready = time.monotonic()
                    for index, cell in enumerate(executable.cells):
                        number = index // 2 if index % 2 == 0 and 0 < index < len(executable.cells) - 1 else None
                        if time.monotonic() > deadline:
                            stopped, stopped_cell = "timeout", number
                            detail = f"the whole submission ran over {options.submission_timeout:.0f} s"
                            break
                        cell_started = time.monotonic()
                        client.cell_started(index)
                        try:
                            client.execute_cell(cell, index)
                        except CellTimeoutError:
                            if client.killed:
                                stopped, stopped_cell = "timeout", number
                                detail = f"over {options.cell_timeout:.0f} s"
                                if number is not None:
                                    runs.append(CellRun(number, cell.source, "timeout",
                                                        CellError("TimeoutError", f"over {options.cell_timeout:.0f} s, "
                                                                  "and it did not stop when interrupted"),
                                                        time.monotonic() - cell_started))
                                break
                            cell.outputs = [{"output_type": "error", "ename": "TimeoutError", "evalue": "", "traceback": []}]
                        except DeadKernelError as error:
                            stopped, stopped_cell = _death_cause(watch, confinement), number
                            detail = str(error)
                            if number is not None:
                                runs.append(CellRun(number, cell.source, "error", None, time.monotonic() - cell_started))
                            break
                        if index == 0:
                            setup_seconds = time.monotonic() - cell_started
                            probe_error = next((f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", [])
                                                if o.get("output_type") == "error"), None)
                        if number is not None:
                            runs.append(_cell_run(number, cell, time.monotonic() - cell_started, options))
                            if runs[-1].status == "timeout" and time.monotonic() > deadline:
                                stopped, stopped_cell = "timeout", number
                                break
                peak = watch.peak  # resident memory; the cgroup's figure counts the page cache too
                if watch.exceeded or confinement.oom_killed():
                    stopped = "memory_limit"
                if watch.disk_exceeded:
                    stopped = "disk_limit"
        finally:
            if write_end >= 0:
                os.close(write_end)
            _shut_down(client, kernel_pid)
            confinement.end()
            kernel_log.join(1)
            os.close(read_end)
        if stopped == "memory_limit":
            detail = f"over {format_bytes(options.memory_limit_bytes)}"
        elif stopped == "disk_limit":
            detail = f"over {format_bytes(options.max_disk_bytes)} written"
        limits_hit = [{"limit": "output", "cell": index // 2, "value": format_bytes(options.max_output_bytes)}
                      for index in sorted(client.cut_cells) if index % 2 == 0 and index > 0]
        if confinement.process_cap_hit():
            limits_hit.append({"limit": "processes", "cell": None, "value": f"{options.max_processes} processes"})
        isolation = confinement.description()
    executed = {run.cell for run in runs}
    runs += [CellRun(n, s, "not_run") for n, s in enumerate(sources, start=1) if n not in executed]
    runs.sort(key=lambda run: run.cell)
    return _with_probe(
        Evidence(kind="notebook", cells=tuple(runs), stopped=stopped, stopped_detail=detail,
                 stopped_cell=stopped_cell,
                 meta={"kernel_start_seconds": round(kernel_ready - started, 2), "kernel_start": start,
                       "probe_setup_seconds": round(setup_seconds, 2),
                       **({"probe": f"the probe could not be installed: {probe_error}"} if probe_error else {}),
                       "run_seconds": round(time.monotonic() - started, 2),
                       "peak_memory": format_bytes(peak), "data_served": options.data_served,
                       "quick": options.quick, "device": options.device, "keras_mode": options.keras,
                       "isolation": isolation,
                       **({"limits_hit": limits_hit} if limits_hit else {}),
                       **({"kernel_log_tail": kernel_log.text()[-4000:]} if stopped else {})}),
        workspace, token,
    )


@contextmanager
def _explained_start(setup, kernel_log: CappedReader):
    """nbclient's kernel set-up, whose failure to start says what the kernel printed."""
    try:
        entered = setup.__enter__()
    except RuntimeError as error:
        time.sleep(0.5)
        raise RuntimeError(f"{error}; the kernel printed: {kernel_log.text()[-1500:].strip() or 'nothing'}") from None
    try:
        yield entered
    except BaseException:
        if not setup.__exit__(*sys.exc_info()):
            raise
    else:
        setup.__exit__(None, None, None)


def _death_cause(watch: MemoryWatch, confinement) -> str:
    if watch.exceeded or confinement.oom_killed():
        return "memory_limit"
    if watch.disk_exceeded:
        return "disk_limit"
    return "kernel_died"


class LimitedClient(NotebookClient):
    """nbclient's client under the grader's limits: each cell's output is cut while it streams
    (the cut said in the output), and a cell that does not stop when interrupted (it ignores
    SIGINT, or is stuck in C code) has its kernel's processes killed after a grace."""

    def limit(self, output_bytes: int, grace: float) -> None:
        self.output_bytes = output_bytes
        self.grace = grace
        self.cut_cells: set[int] = set()
        self.used: dict[int, int] = {}
        self.killed = False
        self.kill = lambda: None
        self._interrupted_at = None

    def cell_started(self, index: int) -> None:
        self._interrupted_at = None

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg.get("msg_type") == "error":
            content["evalue"] = str(content.get("evalue", ""))[:8000]
            content["traceback"] = [str(line)[:4000] for line in content.get("traceback", [])[-60:]]
            return super().output(outs, msg, display_id, cell_index)
        size = len(content.get("text", "")) if msg.get("msg_type") == "stream" else len(json.dumps(content, default=str))
        used = self.used.get(cell_index, 0) + size
        self.used[cell_index] = used
        if used > self.output_bytes:
            if cell_index not in self.cut_cells:
                self.cut_cells.add(cell_index)
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"\n[cnngrader: the output of this cell was cut at {format_bytes(self.output_bytes)}]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        """The kernel's reply says a cell failed even when the cell's code silenced the error's
        display (replacing `showtraceback`): the error is then taken from the reply."""
        content = (exec_reply or {}).get("content", {})
        if content.get("status") == "error" and not any(o.get("output_type") == "error" for o in cell.outputs):
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename=str(content.get("ename", "Error"))[:200], evalue=str(content.get("evalue", ""))[:8000],
                traceback=[str(line)[:4000] for line in content.get("traceback", [])[-60:]]))
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)

    async def _async_handle_timeout(self, timeout, cell=None):
        now = time.monotonic()
        if self._interrupted_at is None:
            self._interrupted_at = now
            return await super()._async_handle_timeout(timeout, cell)
        if now - self._interrupted_at >= self.grace:
            self.killed = True
            self.kill()
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)
        await asyncio.sleep(0.25)
        return None


def pinned_kernel_manager(folder: Path, confinement) -> AsyncKernelManager:
    """A kernel manager that starts the grader's own Python through the jail, whatever kernels
    the machine has registered (a user's 'python3' kernelspec could point at an environment
    without the probe). The kernel talks over Unix sockets in the run's own folder (`ipc`), not
    TCP ports another process on the machine could reach, and works inside a network namespace."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({
        "argv": confinement.command(argv), "display_name": "cnngrader (Python 3)", "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport="ipc",
                                 connection_file=str(folder / "kernel.json"), ip=str(folder / "k"))
    manager.write_connection_file()
    uid = confinement.isolation.uid
    if uid is not None:
        os.chown(folder / "kernel.json", uid, uid)
    manager.provisioner = ConfinedProvisioner(kernel_id=secrets.token_hex(8), kernel_spec=manager.kernel_spec,
                                              parent=manager)
    return manager


class ConfinedProvisioner(LocalProvisioner):
    """Starts the kernel's jail command as a fork of the warm server (TensorFlow, Keras and
    ipykernel already imported) where it runs, else as a new process, as LocalProvisioner would."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        self.process = warm.popen(cmd, env=kwargs.get("env"), cwd=kwargs.get("cwd"),
                                  stdout=kwargs.get("stdout"), stderr=kwargs.get("stderr"))
        self.pid = self.pgid = self.process.pid  # its own session either way
        self.cwd = kwargs.get("cwd")
        return self.connection_info


def _cell_run(number: int, cell, seconds: float, options: RunOptions) -> CellRun:
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
        if ename in ("TimeoutError", "KeyboardInterrupt") and seconds >= options.cell_timeout - 1:
            return CellRun(number, cell.source, "timeout", CellError("TimeoutError", f"over {options.cell_timeout:.0f} s"), seconds)
        traceback = strip_ansi("\n".join(output.get("traceback", [])))[-8000:]
        return CellRun(number, cell.source, "error", CellError(ename, strip_ansi(evalue), traceback, _error_line(traceback)), seconds)
    return CellRun(number, cell.source, "ok", None, seconds)


def _error_line(traceback: str) -> int | None:
    """The line in the cell where the error was raised: the last 'Cell In[n], line k' frame."""
    import re

    lines = re.findall(r"Cell In\[\d+\], line (\d+)", traceback)
    if lines:
        return int(lines[-1])
    match = re.search(r'File "<[^>]*>", line (\d+)', traceback)
    return int(match.group(1)) if match else None


def _shut_down(client, pid: int) -> None:
    """nbclient shuts down only the kernels it created; the pinned one is ours to stop, with
    every process it started (those left after are the confinement's to kill)."""
    _kill_kernel(client, pid)
    try:
        if client.km is not None and client.km.has_kernel:
            run_sync(client.km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - a kernel already gone is what we want
        pass


def _kill_kernel(client, pid: int) -> None:
    """Kill the kernel's process tree while its pid is still its own (the process not yet reaped)."""
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    if pid > 0 and process is not None and process.poll() is None:
        kill_tree(pid)


def _kernel_pid(client) -> int:
    provisioner = getattr(client.km, "provisioner", None)
    pid = getattr(provisioner, "pid", None) or getattr(getattr(provisioner, "process", None), "pid", None)
    return int(pid) if pid else -1


def _with_probe(evidence: Evidence, workspace, token: str) -> Evidence:
    payload, problem = read_probe_payload(workspace.evidence_path)
    if payload is not None and evidence.stopped is None and payload["meta"].get("token") != token:
        # The last cell hands the probe a token made only then: evidence without it was not
        # written by the probe's final step (the notebook replaced or disabled the probe).
        payload, problem = None, ("the evidence file was not written by the grader's probe at the end of the run "
                                  "(the notebook replaced or disabled the probe)")
    if payload is None:
        return replace(evidence, meta={**evidence.meta, "probe": problem})
    # What the submission's process says about itself stays apart from the grader's own figures.
    return replace(evidence, **evidence_fields(payload),
                   meta={**evidence.meta, "reported_by_submission": payload["meta"]})
