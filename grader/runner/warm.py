"""Warm starts: one process per grader that has imported TensorFlow, Keras and ipykernel, and forks
a fresh process for every student run.

Starting a kernel costs a Python start and a TensorFlow import (4 to 8 s of CPU here, 650 MB),
paid again for every submission. The warm server pays it once: started by the grader with the
submissions' environment allow-list and nothing else, it imports what every run needs and then
only forks. Each request forks a *monitor* (root, outside every namespace: it reports the run's
exit and kills it when the grader lets go), which forks the run itself; the run confines itself
exactly as `jail.py` does (namespaces, hidden folders, cgroups, limits, the student's uid) and
then, instead of exec'ing a new Python, runs the module it was asked for (`ipykernel_launcher`,
the module worker, the evaluator) in the already-warm interpreter.

What a student's process inherits is the server's state: modules imported from the grader's own
installation and the allow-listed environment. The server runs no student code and each fork
serves one run and is then discarded, so nothing passes from one student to the next: variables,
patched functions, environment and files all live in the discarded fork or its own workspace.

The grader talks to the server over a socket pair made at its start (no path another process
could connect to); each request carries the run's own socket, over which the monitor reports the
run's pid and exit status. Where the server cannot start or has died, runs start cold as before.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from . import keras2

PRELOAD = {
    3: ("numpy", "tensorflow", "keras", "ipykernel.kernelapp", "grader.runner.probe"),
    2: ("numpy", "tensorflow", "tf_keras", "ipykernel.kernelapp", "grader.runner.probe", "grader.runner.keras2"),
}
"""What every run imports anyway, per Keras mode: the kernel, Keras with TensorFlow, the probe. A
Keras 2 mode run has a server of its own: TensorFlow decides which Keras `tensorflow.keras` is
from the environment it was imported with, and Keras 3 must not be in a Keras 2 run's modules."""
MAX_MESSAGE = 2**20


# the grader's side ---------------------------------------------------------------------------------

class WarmServer:
    """The grader's handle on its warm server: `spawn` starts a run as a fork of it."""

    def __init__(self, environment: dict[str, str]):
        self.folder = Path(tempfile.mkdtemp(prefix="cnngrader-warm-"))
        os.chmod(self.folder, 0o700)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**environment, "HOME": str(self.folder), "KERAS_HOME": str(self.folder / ".keras")}
        self.log_path = self.folder / "server.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "grader.runner.warm", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], cwd=self.folder, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True)
        theirs.close()
        self.socket = ours
        self.lock = threading.Lock()
        self.ready = False
        self.started = time.monotonic()
        self.ready_seconds: float | None = None

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until the server has imported everything; False when it died or took too long."""
        if self.ready:
            return True
        with self.lock:
            if self.ready:
                return True
            self.socket.settimeout(timeout)
            try:
                message = self.socket.recv(64)
            except OSError:
                message = b""
            finally:
                self.socket.settimeout(None)
            self.ready = message == b"ready"
            self.ready_seconds = round(time.monotonic() - self.started, 2)
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, config: str, argv: list[str], env: dict[str, str], cwd: str | None,
              stdout=None, stderr=None) -> "WarmProcess":
        """Start `argv` (a `python -m MODULE ...` command) confined by the jail config `config`, as
        a fork of the warm server. stdout/stderr: a file descriptor, a file, subprocess.PIPE,
        subprocess.STDOUT (for stderr) or None (discarded)."""
        if not self.wait_ready() or not self.alive():
            raise OSError(f"the warm server is not running (see {self.log_path})")
        reply, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        opened, read_end = [], None
        try:
            out_fd = _descriptor(stdout, opened)
            if stdout == subprocess.PIPE:
                read_end, out_fd = os.pipe()
                opened.append(out_fd)
            err_fd = out_fd if stderr == subprocess.STDOUT else _descriptor(stderr, opened)
            request = json.dumps({"config": config, "argv": argv, "env": env, "cwd": cwd}).encode()
            if len(request) > MAX_MESSAGE:
                raise OSError("the run's request is too large for the warm server")
            with self.lock:
                socket.send_fds(self.socket, [request], [theirs.fileno(), out_fd, err_fd])
        except BaseException:
            reply.close()
            if read_end is not None:
                os.close(read_end)
            raise
        finally:
            theirs.close()
            for fd in opened:
                os.close(fd)
        process = WarmProcess(reply, os.fdopen(read_end, "rb") if read_end is not None else None)
        if process.pid is None:
            process.close()
            raise OSError(f"the warm server did not start the run (see {self.log_path})")
        return process

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.process.wait()
            shutil.rmtree(self.folder, ignore_errors=True)


def _descriptor(target, opened: list[int]) -> int:
    if target is None or target in (subprocess.DEVNULL, subprocess.PIPE, subprocess.STDOUT):
        fd = os.open(os.devnull, os.O_WRONLY)
        opened.append(fd)
        return fd
    if isinstance(target, int):
        return target
    return target.fileno()


class WarmProcess:
    """A run started by the warm server, used like `subprocess.Popen`: pid, poll, wait, signals.
    `pid` is the monitor's: it leads the run's process group and every process of the run is one
    of its descendants (kill_tree follows it as it follows a cold start). `run_pid` is the run's
    own, whose tree is the run's memory (the monitor's pages are the server's, shared)."""

    def __init__(self, reply: socket.socket, stdout=None):
        self._socket = reply
        self.stdout = stdout
        self.stdin = self.stderr = None
        self.returncode: int | None = None
        self.pid = self.run_pid = None
        self.namespaced = False
        reply.settimeout(30)
        try:
            message = json.loads(reply.recv(4096) or b"{}")
            self.pid, self.run_pid = int(message["pid"]), int(message["run"])
            self.namespaced = bool(message.get("namespaced"))
            if "exit" in message:
                self.returncode = int(message["exit"])
        except (OSError, ValueError, KeyError, TypeError):
            self.pid = None
        reply.settimeout(None)

    def poll(self) -> int | None:
        if self.returncode is None:
            self._receive(block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._socket.settimeout(timeout)
            try:
                self._receive(block=True)
            except TimeoutError:
                raise subprocess.TimeoutExpired("warm run", timeout) from None
            finally:
                if self.returncode is None:
                    self._socket.settimeout(None)
        return self.returncode

    def _receive(self, block: bool) -> None:
        try:
            data = self._socket.recv(4096, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except TimeoutError:
            raise
        except OSError:
            data = b""
        try:
            self.returncode = int(json.loads(data)["exit"]) if data else -signal.SIGKILL
        except (ValueError, KeyError, TypeError):
            self.returncode = -signal.SIGKILL
        self._socket.close()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None and self.pid:
            try:
                os.killpg(self.pid, signum)
            except OSError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def close(self) -> None:
        self._socket.close()
        if self.stdout is not None:
            self.stdout.close()


_SERVERS: dict[int, WarmServer] = {}
"""This process's warm servers, one per Keras mode used."""
_SERVER_LOCK = threading.Lock()


def enabled() -> bool:
    return os.environ.get("CNNGRADER_WARM", "1") != "0" and sys.platform.startswith("linux")


def server(environment: dict[str, str] | None = None, keras: int = 3) -> WarmServer | None:
    """This process's warm server for the Keras mode `keras`, started on first use (None where it
    is turned off or failed)."""
    if not enabled():
        return None
    with _SERVER_LOCK:
        running = _SERVERS.get(keras)
        if running is not None and not running.alive():
            _SERVERS.pop(keras).close()
            running = None
        if running is None:
            from .options import base_environment

            if not _SERVERS:
                atexit.register(shutdown)
            running = _SERVERS[keras] = WarmServer(environment or base_environment(keras))
        return running


def shutdown() -> None:
    with _SERVER_LOCK:
        while _SERVERS:
            _SERVERS.popitem()[1].close()


def popen(command: list[str], *, env: dict[str, str], cwd, stdout=None, stderr=None):
    """`subprocess.Popen(command, ...)` for a command made by `Confinement.command`, started warm
    where the server runs (a `python -m` command), cold otherwise."""
    config, argv = _split(command)
    mode = keras2.mode_of(env)
    usable = argv is not None and (mode == 3 or keras2.available())
    warm = server(keras=mode) if usable else None
    process = None
    if warm is not None:
        try:
            process = warm.spawn(config, argv, env, str(cwd) if cwd else None, stdout, stderr)
        except OSError:
            pass  # started cold below
    if process is None:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                   stderr=stderr, start_new_session=True)
    _LIVE.add(process)
    return process


_LIVE: "weakref.WeakSet" = weakref.WeakSet()


def kill_live_runs() -> None:
    """Kill every run this process started that has not ended (a batch interrupted with Ctrl-C)."""
    from .limits import kill_tree

    for process in list(_LIVE):
        if process.poll() is None and process.pid:
            kill_tree(process.pid)


def watched_pid(process) -> tuple[int, bool]:
    """The process whose tree is the run's memory, and whether to leave that process itself out:
    for a warm start the run's first process (a fork of the server that only starts and reaps the
    module's process in a jail: its pages are the server's), else the started process."""
    run = getattr(process, "run_pid", None)
    return (run, process.namespaced) if run else (process.pid, False)


def _split(command: list[str]) -> tuple[str | None, list[str] | None]:
    """(jail config, ARGV) of `python -I jail.py CONFIG -- ARGV` where ARGV is `python [flags] -m
    MODULE ...` of this Python; (None, None) for anything else."""
    if len(command) < 6 or not command[2].endswith("jail.py") or command[4] != "--":
        return None, None
    argv = command[5:]
    if argv[0] != sys.executable or "-m" not in argv[1:]:
        return None, None
    flags = argv[1:argv.index("-m")]
    if any(flag not in ("-I", "-u", "-P") for flag in flags):
        return None, None
    return command[3], argv


# the server's side ---------------------------------------------------------------------------------

def serve(channel: socket.socket) -> None:
    """Import what every run needs, then fork a monitor per request until the grader's end of the
    channel closes (when the grader exits, however it exits). No parent-death signal: Linux sends
    it when the *thread* that started us ends, and the grader starts us from a worker thread."""
    import importlib

    for name in PRELOAD[keras2.mode_of(os.environ)]:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors report to the grader, not to us
    channel.sendall(b"ready")
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(channel, MAX_MESSAGE, 3)
        except InterruptedError:
            continue
        if not message:
            os._exit(0)  # the grader closed its end
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            try:
                _monitor(channel, json.loads(message), *fds)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)


def _monitor(channel: socket.socket, request: dict, reply_fd: int, out_fd: int, err_fd: int) -> None:
    """The forked monitor: its own session, the run's standard streams, every other inherited
    descriptor closed. It enters the run's namespaces (or becomes a subreaper where there are
    none), forks the run, reports both pids and the exit, and kills the run when the grader lets
    go. It is not part of the run's memory: the grader watches the run's tree, not the monitor's."""
    from . import jail

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    channel.close()
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    keep = 3 if reply_fd == 3 else os.dup2(reply_fd, 3)
    os.closerange(4, _max_fd())
    reply = socket.socket(fileno=keep)
    try:
        with open(request["config"]) as handle:
            config = json.load(handle)
        if config.get("namespaces"):
            jail.unshare_namespaces()  # the fork below is the new pid namespace's first process
        else:
            jail.become_subreaper()  # orphans of the run come to us, to be killed with it
    except (OSError, ValueError) as error:
        print(f"cnngrader warm start: {error}", file=sys.stderr)
        reply.sendall(json.dumps({"pid": os.getpid(), "run": os.getpid(), "exit": 126}).encode())
        os._exit(126)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel, not for us
    child = os.fork()
    if child == 0:
        reply.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os._exit(_run(request, config))
    reply.sendall(json.dumps({"pid": os.getpid(), "run": child, "namespaced": bool(config.get("namespaces"))}).encode())

    # No thread here: after unshare(CLONE_NEWPID) this process cannot start one. SIGCHLD wakes
    # the select; the grader closing the run's socket (it was killed, or gave up) ends the run.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_write)
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            break
        ready, _, _ = select.select([reply, wake_read], [], [], 1.0)
        if reply in ready:
            try:
                gone = not reply.recv(16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                os.killpg(0, signal.SIGKILL)
        if wake_read in ready:
            os.read(wake_read, 512)
    code = os.waitstatus_to_exitcode(status)
    code = code if code >= 0 else 128 - code
    if not config.get("namespaces"):
        jail.kill_children()
    try:
        reply.sendall(json.dumps({"exit": code}).encode())
    except OSError:
        pass
    os._exit(code & 0xFF)


def _run(request: dict, config: dict) -> int:
    """The run: confined as `jail.py` confines, then the requested module run in this interpreter
    (in a child, in a jail, where this process is the pid namespace's first)."""
    from . import jail

    try:
        if config.get("namespaces"):
            jail.mount_proc()
        os.environ.clear()
        os.environ.update(request["env"])
        if "JPY_PARENT_PID" in os.environ:  # the kernel's parent is the monitor, not the grader
            os.environ["JPY_PARENT_PID"] = str(os.getppid())
        if request.get("cwd"):
            os.chdir(request["cwd"])
        # In a jail this process is the pid namespace's first: it starts the module's process and
        # reaps orphans, as jail.py's does (a first process ignores the signals it sends itself).
        inside = bool(config.get("namespaces"))
        return jail.start({**config, "namespaces": False, "init": inside, "sweep": False}, request["argv"],
                          launch=_run_module)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - said on the run's stderr, as jail.py's own failure is
        import traceback

        traceback.print_exc()
        return 126


def _run_module(argv: list[str]) -> None:
    """What `python [flags] -m MODULE ARGS` would do, in this already-warm interpreter."""
    import runpy

    index = argv.index("-m")
    flags, module, arguments = argv[1:index], argv[index + 1], argv[index + 2:]
    if "-I" not in flags and "-P" not in flags:
        sys.path.insert(0, os.getcwd())  # `python -m` puts the working folder first
    _settle_environment()
    sys.argv = [module, *arguments]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, (int, type(None))):
            print(stop.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what Python prints for an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _settle_environment() -> None:
    """What the server's imports read from its environment, read again from the run's: the
    temporary folder (TMPDIR) and Keras's folder (KERAS_HOME), Keras 3's or tf-keras's."""
    tempfile.tempdir = None
    folder = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    config = sys.modules.get("keras.src.backend.config")
    if config is not None:
        config._KERAS_DIR = folder
    backend = sys.modules.get("tf_keras.src.backend")
    if backend is not None:
        backend._keras_dir = folder


def _max_fd() -> int:
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return 1024


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
