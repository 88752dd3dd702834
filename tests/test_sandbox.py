"""The isolation of student processes (issue #13): the jail's pieces, output folders of their own,
results only the grader writes, and expected files checked against their manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grading import Submission, clear, publish, restore, unique_names
from grader.reference import ExpectedFilesChanged, verify_expected, write_manifest
from grader.runner.limits import CappedReader, folder_bytes
from grader.runner.sandbox import Confinement, Limits, _closed_ancestors, detect


@pytest.fixture
def tiny_result():
    from grader.results import CheckResult, Outcome, SubmissionResult

    return SubmissionResult("alice", "fashion_cnn", "notebook", meta={"versions": {}}, checks=(
        CheckResult("execution", "Notebook runs", Outcome.PASSED, 1.0, 1.0, summary="ran"),))


def names(*paths: str) -> list[str]:
    submissions = [Submission(Path(path).stem, Path(path)) for path in paths]
    return [submission.name for submission in unique_names(submissions)]


def test_submissions_with_the_same_name_get_folders_of_their_own(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.ipynb").write_text("{}")
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "alice.py").write_text("")
    found = names(tmp_path / "a" / "x.ipynb", tmp_path / "b" / "x.ipynb", tmp_path / "alice.ipynb", tmp_path / "alice.py")
    assert found == ["a-x", "b-x", "alice-ipynb", "alice-py"]


def test_a_name_the_class_files_use_is_renamed():
    assert names("/c/index.html.ipynb", "/c/.hidden.ipynb", "/c/bob.ipynb") == ["_index.html", "_hidden", "bob"]


def test_names_that_still_clash_get_a_number():
    assert names("/c/x.ipynb", "/c/x.ipynb") == ["x", "x-2"]


def test_publish_replaces_whatever_a_submission_left_in_its_folder(tmp_path, tiny_result):
    folder = tmp_path / "out" / "alice"
    (folder / "results.json").mkdir(parents=True)  # a folder where the file goes
    (folder / "planted.html").write_text("<script>")
    os.chmod(folder, 0o500)
    written = publish(tiny_result, folder, None)
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "results.json"]
    assert json.loads((folder / "results.json").read_text())["score"] == json.loads(written["results.json"])["score"]


def test_restore_puts_back_a_changed_results_file_and_removes_extra_ones(tmp_path, tiny_result):
    folder = tmp_path / "alice"
    written = publish(tiny_result, folder, None)
    (folder / "results.json").write_text('{"score": 100}')
    (folder / "extra.txt").write_text("x")
    assert restore(folder, written) == ["results.json"]
    assert (folder / "results.json").read_bytes() == written["results.json"]
    assert not (folder / "extra.txt").exists()
    assert restore(folder, written) == []


def test_restore_replaces_a_symlinked_folder(tmp_path, tiny_result):
    folder = tmp_path / "alice"
    written = publish(tiny_result, folder, None)
    clear(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.symlink_to(elsewhere)
    restore(folder, written)
    assert not folder.is_symlink() and (folder / "results.json").read_bytes() == written["results.json"]
    assert list(elsewhere.iterdir()) == []


def test_a_changed_expected_file_stops_the_batch(tmp_path):
    (tmp_path / "demo.json").write_text('{"a": 1}')
    write_manifest(tmp_path)
    verify_expected("demo", tmp_path)
    (tmp_path / "demo.json").write_text('{"a": 2}')
    with pytest.raises(ExpectedFilesChanged, match="SHA-256"):
        verify_expected("demo", tmp_path)
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.raises(ExpectedFilesChanged, match="missing"):
        verify_expected("demo", tmp_path)


def test_the_shipped_expected_files_match_their_manifest():
    from grader.resources import expected_dir

    for path in sorted(expected_dir().glob("*.json")):
        verify_expected(path.stem)


def test_capped_reader_keeps_head_and_tail_of_a_flood():
    read_end, write_end = os.pipe()
    reader = CappedReader(read_end, keep=1000)
    with os.fdopen(write_end, "wb") as stream:
        stream.write(b"head" + b"x" * 100_000 + b"tail")
    reader.join()
    os.close(read_end)
    text = reader.text()
    assert text.startswith("head") and text.endswith("tail") and "cut here" in text and len(text) < 2200


def test_folder_bytes_counts_many_empty_files(tmp_path):
    for index in range(50):
        (tmp_path / str(index)).touch()
    assert folder_bytes([tmp_path]) >= 50 * 4096


def test_a_folder_others_cannot_enter_is_found(tmp_path):
    closed = tmp_path / "closed"
    (closed / "inside").mkdir(parents=True)
    os.chmod(closed, 0o700)
    assert closed in _closed_ancestors([closed / "inside"])


def test_an_unknown_isolation_level_is_refused():
    from grader.runner.sandbox import IsolationUnavailable

    with pytest.raises(IsolationUnavailable, match="unknown"):
        detect("sandboxed")


def run_confined(level: str, tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    root = tmp_path / "run"
    (root / "work").mkdir(parents=True)
    os.chmod(tmp_path, 0o755)
    with Confinement(detect(level), root, root / "work", Limits(memory_bytes=2**30)) as confinement:
        return subprocess.run(confinement.command([sys.executable, "-c", code]), cwd=root / "work",
                              env={"PATH": os.environ["PATH"], "HOME": str(root)}, capture_output=True, timeout=60)


def jail_or_skip() -> None:
    if detect().level != "jail":
        pytest.skip(f"this machine gives the {detect().level!r} level, not a jail: {detect().missing}")


def test_a_jailed_process_is_unprivileged_offline_and_sees_none_of_the_grader(tmp_path):
    jail_or_skip()
    secret = tmp_path / "grader-secret.txt"
    secret.write_text("labels")
    done = run_confined("jail", tmp_path, (
        "import json, os, socket\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); net = 'open'\n"
        "except OSError as error:\n    net = str(error)\n"
        f"print(json.dumps({{'uid': os.getuid(), 'net': net, 'secret': os.path.exists({str(secret)!r}),"
        f" 'home': os.listdir(os.path.expanduser('~root')), 'pids': [p for p in os.listdir('/proc') if p.isdigit()]}}))"))
    seen = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert seen["uid"] != 0 and seen["secret"] is False
    assert "unreachable" in seen["net"].lower() or "errno 101" in seen["net"].lower()
    assert len(seen["pids"]) <= 3, seen["pids"]  # the jail, the process itself


def test_a_jailed_background_process_dies_with_the_run(tmp_path):
    jail_or_skip()
    done = run_confined("jail", tmp_path, (
        "import os, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        "print(os.getuid())"))
    uid = int(done.stdout.decode().split()[-1])
    survivors = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            # A zombie is dead already (it waits to be reaped and holds nothing): not a survivor.
            if f"Uid:\t{uid}\t" in status and "State:\tZ" not in status:
                survivors.append(entry.name)
    assert survivors == []


def test_graders_with_different_tmpdirs_never_share_a_uid(tmp_path):
    """The Gradescope entry point points TMPDIR elsewhere; a uid another grader holds must not be
    claimed again, or killing "every process of this user" would kill that grader's student."""
    code = "from grader.runner.sandbox import claim_uid; import time; print(claim_uid(), flush=True); time.sleep(3)"
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    held = first.stdout.readline().strip()
    other = subprocess.run([sys.executable, "-c", code.replace("time.sleep(3)", "pass")], capture_output=True,
                           env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=60)
    first.wait()
    assert held and other.stdout.strip() and other.stdout.strip() != held
