"""Run a module (.py) or saved model (.keras, .h5) submission in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..evidence import CellError, CellRun, Evidence
from . import warm
from .limits import CappedReader, MemoryWatch, format_bytes, kill_tree
from .options import RunOptions, evidence_fields, read_probe_payload, submission_environment

OUTPUT_CAP = 64 * 1024


def run_module(path: Path, options: RunOptions, entry_points: tuple[str, ...], kind: str = "module",
               export_dir: Path | None = None) -> Evidence:
    with options.workspace(path, export_dir) as workspace:
        config = json.loads(workspace.probe_config.read_text())
        config.update({"kind": kind, "path": str(workspace.submission), "entry_points": list(entry_points)})
        workspace.probe_config.write_text(json.dumps(config))
        limit = min(options.cell_timeout, options.submission_timeout)
        with options.confinement(workspace, export_dir) as confinement:
            started = time.monotonic()
            process = warm.popen(
                confinement.command([sys.executable, "-m", "grader.runner.worker", str(workspace.probe_config)]),
                cwd=workspace.folder, env=submission_environment(workspace, options),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            output = CappedReader(process.stdout, keep=OUTPUT_CAP // 2)
            stopped, detail = None, ""
            with MemoryWatch(warm.watched_pid(process), options.memory_limit_bytes,
                             folders=(workspace.root, *([export_dir] if export_dir else [])),
                             disk_limit=options.max_disk_bytes) as watch:
                try:
                    process.wait(timeout=limit)
                except subprocess.TimeoutExpired:
                    stopped, detail = "timeout", f"over {limit:.0f} s"
                    kill_tree(process.pid)  # not reaped yet, so the pid is still its own
                    process.wait()
            confinement.end()
            output.join(2)
            process.stdout.close()
            if watch.exceeded or confinement.oom_killed():
                stopped, detail = "memory_limit", f"over {format_bytes(options.memory_limit_bytes)}"
            elif watch.disk_exceeded:
                stopped, detail = "disk_limit", f"over {format_bytes(options.max_disk_bytes)} written"
            elif stopped is None and process.returncode != 0:
                stopped, detail = "kernel_died", f"exit status {process.returncode}"
            elif stopped is None and not workspace.evidence_path.exists():
                # os._exit() in the module ends the process before the worker writes anything.
                stopped, detail = "kernel_died", "it ended before the grader's run of it finished (exit status 0)"
            limits_hit = []
            if output.total > options.max_output_bytes:
                limits_hit.append({"limit": "output", "cell": None, "value": format_bytes(options.max_output_bytes)})
            if confinement.process_cap_hit():
                limits_hit.append({"limit": "processes", "cell": None, "value": f"{options.max_processes} processes"})
            evidence = Evidence(kind=kind, stopped=stopped, stopped_detail=detail, meta={
                "run_seconds": round(time.monotonic() - started, 2), "peak_memory": format_bytes(watch.peak),
                "output_tail": output.text(), "device": options.device, "keras_mode": options.keras,
                "isolation": confinement.description(),
                **({"limits_hit": limits_hit} if limits_hit else {}),
            })
        return _with_probe(evidence, workspace.evidence_path, path.name)


def _with_probe(evidence: Evidence, evidence_path: Path, file_name: str) -> Evidence:
    payload, problem = read_probe_payload(evidence_path)
    if payload is None:
        return replace(evidence, meta={**evidence.meta, "probe": problem})
    runs = tuple(
        CellRun(cell=None, source="", status="error", error=error) for error in payload["errors"]
    )
    invalid = None
    if evidence.kind == "saved_model" and payload["errors"]:
        error: CellError = payload["errors"][0]
        invalid = f"{error.ename}: {error.evalue.splitlines()[0] if error.evalue else ''}"[:300]
    return replace(evidence, cells=runs, **evidence_fields(payload), entry_points=payload["entry_points"],
                   invalid=invalid,
                   meta={**evidence.meta, "file": file_name, "reported_by_submission": payload["meta"]})



