"""The launcher every student process starts through: `python -I .../jail.py CONFIG -- ARGV`.

The grader writes CONFIG (a JSON file only it can read) and starts this module in place of the
student's process. It applies what the isolation level allows, in this order, then runs ARGV:

1. hides folders behind empty ones (in a mount namespace of its own): the grader's home, the
   output folder, /tmp and the grader's private files, keeping visible the Python installation
   and the submission's own workspace;
2. joins the cgroups the grader made for this run (memory and process caps);
3. sets resource limits (file size, processes, core files);
4. drops to the unprivileged user;
5. runs ARGV: it forks, reaps orphans and exits with ARGV's status. As the first process of a pid
   namespace, the kernel then kills every process left in the namespace; without one it is a
   subreaper and kills the orphans it inherited itself: a background process cannot outlive the
   submission.

The warm server (`warm.py`) applies the same steps through `start`, with ARGV run in the
already-warm interpreter instead of exec'd.

It runs no student code itself and imports nothing of the grader's but the standard library.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_NOEXEC = 8
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 8192, 16384, 1 << 18, 2, 4
STAGE = "/run/cnngrader-stage"
RLIMITS = {"file_size": resource.RLIMIT_FSIZE, "processes": resource.RLIMIT_NPROC,
           "core": resource.RLIMIT_CORE, "open_files": resource.RLIMIT_NOFILE}


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encode = (lambda value: value.encode() if value is not None else None)
    if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")


def _inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def hide(hidden: list[str], kept: list[str]) -> None:
    """Cover each hidden folder with an empty tmpfs (each hidden file with /dev/null), moving the
    kept folders inside it back into place."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(STAGE, exist_ok=True)
    _mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    for place in sorted(hidden, key=len):
        if os.path.isfile(place):
            _mount("/dev/null", place, None, MS_BIND)
            continue
        if not os.path.isdir(place):
            continue
        inner = [path for path in kept if _inside(path, place) and os.path.exists(path)]
        inner = [path for path in inner if not any(_inside(path, other) for other in inner)]
        staged = []
        for index, path in enumerate(inner):
            stage = os.path.join(STAGE, str(index))
            os.makedirs(stage, exist_ok=True)
            _mount(path, stage, None, MS_BIND | MS_REC)
            staged.append((stage, path))
        _mount("tmpfs", place, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64m")
        for stage, path in staged:
            os.makedirs(path, exist_ok=True)
            _mount(stage, path, None, MS_MOVE)


def add_user(uid: int, home: str) -> None:
    """/etc/passwd and /etc/group with the student's user in them (bound over the real ones in the
    jail's mount namespace), so that `getpass.getuser()` and `~` lookups work as on any machine."""
    for name, line in (("passwd", f"student:x:{uid}:{uid}:cnngrader student:{home}:/bin/sh"),
                       ("group", f"student:x:{uid}:")):
        real = f"/etc/{name}"
        try:
            with open(real) as handle:
                lines = [entry for entry in handle.read().splitlines() if not entry.startswith("student:")]
        except OSError:
            lines = []
        staged = os.path.join(STAGE, name)
        with open(staged, "w") as handle:
            handle.write("\n".join([*lines, line]) + "\n")
        os.chmod(staged, 0o644)
        if os.path.exists(real):
            _mount(staged, real, None, MS_BIND)


def join_cgroups(folders: list[str]) -> None:
    for folder in folders:
        with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
            handle.write("0")


def set_limits(limits: dict) -> None:
    for name, value in limits.items():
        resource.setrlimit(RLIMITS[name], (int(value), int(value)))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop to the unprivileged user")


def die_with_parent(parent: int) -> None:
    """SIGKILL when the process that started us dies (a change of user clears this, so it is set
    after the drop); if it is already gone, stop now."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(137)


def run_as_init(argv: list[str], launch=None, sweep: bool = False) -> int:
    """Fork ARGV and reap every child until it ends; its exit status is ours. With `sweep` (no pid
    namespace to end them), this process is a subreaper and kills whatever ARGV left running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel, not for us
    if sweep:
        become_subreaper()
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if "JPY_PARENT_PID" in os.environ:  # the kernel's parent is now us, not the grader
            os.environ["JPY_PARENT_PID"] = str(os.getppid())
        (launch or _exec)(argv)
        os._exit(0)
    code = None
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1 if code is None else code
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            code = code if code >= 0 else 128 - code
            if not sweep:
                return code
            kill_children()


def kill_children() -> None:
    """SIGKILL every process whose parent is this one (orphans a subreaper inherited)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = handle.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def _exec(argv: list[str]) -> None:
    try:
        os.execv(argv[0], argv)
    except OSError as error:
        print(f"cnngrader jail: cannot start {argv[0]}: {error}", file=sys.stderr)
        os._exit(127)


def unshare_namespaces() -> None:
    """New network, mount, IPC and UTS namespaces for this process, a new pid namespace for the
    children it forks next."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")


def mount_proc() -> None:
    """In the pid namespace's first process: its own /proc, dying with the process outside."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def become_subreaper() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def enter_namespaces() -> None:
    """New pid, network, mount, IPC and UTS namespaces. This process stays outside the pid
    namespace and waits; its child is the namespace's first process (and returns from here)."""
    unshare_namespaces()
    child = os.fork()
    if child == 0:
        mount_proc()  # (our parent is outside: getppid() is 0)
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(child, 0)
        except InterruptedError:
            continue
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)


def main(arguments: list[str]) -> int:
    config_path, separator, *argv = arguments
    if separator != "--" or not argv:
        print("usage: jail.py CONFIG -- ARGV", file=sys.stderr)
        return 2
    with open(config_path) as handle:
        config = json.load(handle)
    return start(config, argv)


def start(config: dict, argv: list[str], launch=None) -> int:
    """Confine this process as `config` says, then run ARGV (`launch(argv)`, by default exec)."""
    if config.get("namespaces"):
        enter_namespaces()
    if config.get("hidden"):
        hide(config["hidden"], config.get("kept", []))
        if config.get("uid") is not None:
            add_user(int(config["uid"]), config.get("home", "/"))
    join_cgroups(config.get("cgroups", []))
    set_limits(config.get("rlimits", {}))
    parent = os.getppid()
    if config.get("uid") is not None:
        drop_privileges(int(config["uid"]), int(config["gid"]))
    die_with_parent(parent)
    os.chdir(config["cwd"])
    if config.get("init"):
        return run_as_init(argv, launch, sweep=config.get("sweep", not config.get("namespaces")))
    (launch or _exec)(argv)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
