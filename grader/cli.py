"""The `cnngrader` command.

Exit status: 0 when the grader did its job (whatever the submissions' scores), 2 when it was
called wrongly (argparse), 1 when it cannot run (missing exercise files, unreadable expected file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnngrader",
        description="Grade and self-check convolutional-network exercises in TensorFlow/Keras.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = commands.add_parser("grade", help="grade notebooks, modules or saved models")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="a notebook, module or saved model, or a folder of them")
    grade.add_argument("--exercise", required=True, help="exercise id (see `cnngrader exercises`)")
    grade.add_argument("--out", type=Path, default=Path("graded"), help="output folder (default: graded)")
    modes = grade.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_true",
                       help="self-check mode: cap every fit to a few batches; training checks are skipped")
    modes.add_argument("--artifacts", action="store_true",
                       help="each submission is a folder with the notebook and the model files it saves: "
                            "the notebook runs capped, the uploaded files are graded")
    grade.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="per-cell time limit (default: the exercise's, 600 s; 60 s with --quick or --artifacts)")
    grade.add_argument("--memory-limit", type=float, default=8.0, metavar="GB",
                       help="memory of a submission's processes; past it they are stopped (default: 8)")
    grade.add_argument("--data-dir", default=None, help="folder with the datasets (else the usual places)")
    grade.add_argument("--isolation", choices=("auto", "jail", "user", "process"), default=None,
                       help="how student code is isolated (default: auto, the strongest this machine allows; "
                            "see the README)")
    grade.add_argument("--workers", type=_positive, default=None, metavar="N",
                       help="submissions graded at once (default: the machine's cores, fewer if memory is short: "
                            "about 1.5 GB each in --quick, 2.5 GB in full mode)")
    grade.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on a Dask cluster (tcp://HOST:8786), one task per submission; "
                            "needs pip install 'cnngrader[dask]'")
    grade.add_argument("--force", action="store_true",
                       help="grade every submission again (by default one whose inputs are unchanged since its "
                            "results.json was written is kept)")
    grade.add_argument("--keras", type=int, choices=(2, 3), default=None,
                       help="the Keras the submissions run under (default: the exercise's `keras`, else 3); "
                            "2 runs them under tf-keras as a Keras 2 course ran (pip install 'cnngrader[keras2]')")

    check = commands.add_parser("check", help="self-check one notebook against an exercise's public checks (quick mode)")
    check.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="your notebook (.ipynb) or module (.py)")
    check.add_argument("--exercise", required=True, help="exercise id (see `cnngrader exercises`)")
    check.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="per-cell time limit (default: the exercise's quick limit, 60 s)")
    check.add_argument("--data-dir", default=None, help="folder with the datasets (else the usual places)")
    check.add_argument("--keras", type=int, choices=(2, 3), default=None,
                       help="the Keras your notebook runs under (default: the exercise's)")

    gradescope = commands.add_parser("gradescope", help="Gradescope integration")
    gradescope_commands = gradescope.add_subparsers(dest="gradescope_command", required=True, metavar="ACTION")
    build = gradescope_commands.add_parser("build", help="write the autograder zip for an exercise")
    build.add_argument("id", metavar="ID", help="exercise id")
    build.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"), help="zip to write (default: autograder.zip)")
    build.add_argument("--artifacts", action="store_true",
                       help="grade the model files students upload beside the notebook (fits a short time limit)")
    build.add_argument("--leaderboard", action="store_true", help="post the grader's test accuracy to the leaderboard")
    build.add_argument("--keras", type=int, choices=(2, 3), default=None,
                       help="the Keras submissions run under (default: the exercise's); 2 installs tf-keras in the image")

    commands.add_parser("exercises", help="list the exercises")

    reference = commands.add_parser("reference", help="record or show reference expectations")
    reference_commands = reference.add_subparsers(dest="reference_command", required=True, metavar="ACTION")
    record = reference_commands.add_parser("record", help="train the references and write expected files")
    record.add_argument("ids", nargs="*", metavar="ID", help="exercise ids (default: all)")
    record.add_argument("--seeds", type=int, default=3, help="number of seeds (default: 3)")
    record.add_argument("--epochs-cap", type=int, default=None, metavar="K", help="at most K epochs per fit")
    record.add_argument("--train-limit", type=int, default=None, metavar="N",
                        help="train on the first N images only (smoke runs; the file says so)")
    record.add_argument("--out", type=Path, default=None, help="folder for the files (default: reference/expected)")
    record.add_argument("--data-dir", default=None)
    record.add_argument("--keras", type=int, choices=(2, 3), default=3,
                        help="record under Keras 2 (tf-keras) into reference/expected/keras2/ (default: 3)")
    record.add_argument("--tables-only", action="store_true",
                        help="rewrite only the layer tables of existing files; no training")
    show = reference_commands.add_parser("show", help="print the expected layer tables and thresholds")
    show.add_argument("id", metavar="ID")
    show.add_argument("--dir", type=Path, default=None, help="folder of expected files")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    from .data import DataUnavailable
    from .runner.keras2 import Keras2Unavailable

    args = build_parser().parse_args(argv)
    handler = {"grade": run_grade, "check": run_check, "gradescope": run_gradescope,
               "exercises": run_exercises, "reference": run_reference}[args.command]
    try:
        return handler(args)
    except (FileNotFoundError, KeyError, ValueError, DataUnavailable) as error:
        print(f"cnngrader: {error}", file=sys.stderr)
        return 1
    except Keras2Unavailable as error:
        print(f"cnngrader: {error}", file=sys.stderr)
        return 2


def run_reference(args) -> int:
    from .reference import EXERCISE_IDS, format_table, load_expected, record, refresh_tables

    if args.reference_command == "show":
        if args.id not in EXERCISE_IDS:
            raise KeyError(f"unknown exercise {args.id!r}; known: {', '.join(EXERCISE_IDS)}")
        expected = load_expected(args.id, args.dir)
        print(f"{args.id}: expected answers ({expected['data']['dataset']}, "
              f"{expected['recorded']['seeds']} seeds, full training: {expected['recorded']['full']})\n")
        for key, entry in expected["models"].items():
            print(format_table(key, entry) + "\n")
        print("thresholds:")
        for name, threshold in expected["thresholds"].items():
            summary = expected["metrics"][name]
            print(f"  {name:<36} pass {threshold['pass']:.3f}  floor {threshold['floor']:.3f}  "
                  f"(seeds: min {summary['min']:.4f}, mean {summary['mean']:.4f}, max {summary['max']:.4f})")
        return 0
    ids = args.ids or list(EXERCISE_IDS)
    unknown = [i for i in ids if i not in EXERCISE_IDS]
    if unknown:
        raise KeyError(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(EXERCISE_IDS)}")
    if args.keras == 2:
        from .reference import KERAS2_FOLDER, use_keras2
        from .resources import expected_dir

        use_keras2()
        args.out = args.out or expected_dir() / KERAS2_FOLDER
    for exercise_id in ids:
        if args.tables_only:
            print(f"wrote {refresh_tables(exercise_id, args.out)}")
            continue
        path = record(exercise_id, seeds=args.seeds, epochs_cap=args.epochs_cap,
                      train_limit=args.train_limit, data_dir=args.data_dir, out_dir=args.out,
                      report=lambda line: print(line, flush=True))
        print(f"wrote {path}", flush=True)
    return 0


def run_check(args) -> int:
    from .selfcheck import run_self_check

    return run_self_check(args.notebook, args.exercise, timeout=args.timeout, data_dir=args.data_dir,
                          keras=args.keras)


def run_gradescope(args) -> int:
    from .gradescope_build import build_autograder

    path = build_autograder(args.id, args.output, artifacts=args.artifacts, leaderboard=args.leaderboard,
                            report=print, keras=args.keras)
    print(f"wrote {path}")
    return 0


def run_exercises(args) -> int:
    from .exercises import load_all

    for spec in load_all():
        print(f"{spec.id:<20} {spec.title}")
    return 0


def run_grade(args) -> int:
    from .grading import grade_paths

    return grade_paths(args.paths, args.exercise, out=args.out, quick=args.quick, timeout=args.timeout,
                       data_dir=args.data_dir, memory_limit_bytes=int(args.memory_limit * 2**30),
                       artifacts=args.artifacts, isolation=args.isolation, workers=args.workers,
                       scheduler=args.scheduler, force=args.force, progress=True, keras=args.keras,
                       log=lambda line: print(line, flush=True))  # each line as it happens, piped or not


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
