"""Command line: ``crossdomain {list,run,datasets,report,bench}`` (also ``python -m crossdomain``)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from crossdomain.adapters import AdapterError
from crossdomain.config import ConfigError, apply_overrides
from crossdomain.registry import UnknownNameError

USER_ERRORS = (ConfigError, UnknownNameError, AdapterError, FileNotFoundError)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                        help="mirror folder holding the datasets' source files (repeatable; tried before "
                             "$CROSSDOMAIN_DATA and ../shared/data beside the checkout)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossdomain",
        description="Fine-tune text-pretrained BERT and the same architecture from random initialisation on "
                    "non-language sequences mapped to English tokens (Kao & Lee 2021), and compare them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="adapters, tasks, suites, init arms, models, mapping strategies and hooks")

    run = commands.add_parser("run", help="run every unit of a suite (resumable), then write the report",
                              description="Run task × fold × init × seed × mapping-seed units. Re-running on the "
                                          "same --out skips finished units; failed units are recorded and retried.")
    run.add_argument("--suite", required=True, help="built-in suite name (smoke, quick, paper) or a suite YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<suite>)")
    run.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks (names as in `crossdomain list`)")
    run.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="training seeds (replace the suite's)")
    run.add_argument("--mapping-seeds", nargs="+", type=int, metavar="SEED", help="token-mapping seeds")
    run.add_argument("--inits", nargs="+", metavar="ARM",
                     help="init arms (replace the suite's), e.g. pretrained random stats-matched pretrained-layers:k=3 "
                          "frozen:base=random (see `crossdomain list`)")
    run.add_argument("--model", help="model alias, Hugging Face id or local folder (replaces the suite's)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="override a suite key, type-checked, e.g. --set train.lr=5e-5 --set train.epochs=2 "
                          "(see `crossdomain run --suite NAME --show-config` for the keys)")
    run.add_argument("--show-config", action="store_true", help="print the resolved suite and its units, run nothing")
    run.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_dir(run)

    datasets = commands.add_parser("datasets", help="table of every task: sources, rows, drops, classes, lengths, splits")
    datasets.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="tasks to show (default: all)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_data_dir(datasets)

    report = commands.add_parser("report", help="tables and figures comparing the arms of one or more run folders")
    report.add_argument("runs", nargs="+", type=Path, help="run folder(s) holding units/*.json")
    report.add_argument("--out", type=Path, help="report folder (default: RUN/report for one run)")
    report.add_argument("--metric", default="primary", help="metric to compare: primary (each task's own), accuracy, macro_f1 or mcc")
    report.add_argument("--contrast", nargs=2, action="append", metavar=("TREATMENT", "CONTROL"), dest="contrasts",
                        help="a pair of arms to compare (repeatable); default: the run's suite contrasts, else every "
                             "arm against random")

    bench = commands.add_parser("bench", help="training throughput: plain Hugging Face recipe vs crossdomain's path")
    bench.add_argument("--model", default="minilm-l6", help="model alias, id or folder (default minilm-l6)")
    bench.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="tasks to measure (default: the quick suite's)")
    bench.add_argument("--steps", type=int, default=12, help="training steps per measurement")
    bench.add_argument("--batch-size", type=int, default=16, help="sequences per step")
    bench.add_argument("--lr", type=float, default=5e-5,
                       help="peak learning rate of both arms (with enough --steps, dev accuracy is the two-arm check)")
    bench.add_argument("--max-length", type=int, default=64, help="tokens per sequence, including [CLS]/[SEP]")
    bench.add_argument("--repeats", type=int, default=3, help="alternating baseline/harness repetitions (medians reported)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_data_dir(bench)
    return parser


def cmd_list(args) -> None:
    from crossdomain.adapters import ADAPTERS
    from crossdomain.hooks import HOOKS
    from crossdomain.inits import INITS
    from crossdomain.mapping import MAPPINGS
    from crossdomain.models import ALIASES
    from crossdomain.suites import available_suites, load_suite
    from crossdomain.tasks import available_tasks, get_task

    print("adapters:")
    for name in ADAPTERS.names():
        print(f"  {name:<12} {ADAPTERS.get(name).description}")
    print("tasks:")
    for name in available_tasks():
        task = get_task(name)
        print(f"  {name:<22} v{task.version}  adapter={task.adapter:<8} labels={len(task.labels)}  primary={task.primary_metric}")
    print("suites:")
    for name in available_suites():
        suite = load_suite(name)
        print(f"  {name:<8} model={suite.model:<10} {len(suite.tasks)} tasks × {suite.inits} × seeds {suite.seeds}  ({suite.expected_cost})")
    print("init arms (NAME or NAME:KEY=VALUE[,KEY=VALUE]):")
    for name in INITS.names():
        arm = INITS.get(name)
        params = ", ".join(_describe_field(f) for f in dataclasses.fields(arm))
        print(f"  {name + (f' ({params})' if params else ''):<26} {arm.summary()}")
    print("models (aliases; any Hugging Face id or local folder also works):")
    for name, (description, _) in ALIASES.items():
        print(f"  {name:<10} {description}")
    print("mapping strategies:")
    for name in MAPPINGS.names():
        print(f"  {name}")
    print("post-training hooks:")
    for name in HOOKS.names():
        print(f"  {name:<12} {(HOOKS.get(name).__doc__ or '').strip()}")


def _describe_field(field) -> str:
    kind = getattr(field.type, "__name__", field.type)
    default = "" if field.default is dataclasses.MISSING else f"={field.default}"
    return f"{field.name}: {kind}{default}"


def resolve_run_suite(args):
    from crossdomain.suites import load_suite, validate_suite

    suite = load_suite(args.suite)
    shortcuts = {"tasks": args.tasks, "seeds": args.seeds, "mapping_seeds": args.mapping_seeds,
                 "inits": args.inits, "model": args.model}
    suite = dataclasses.replace(suite, **{k: v for k, v in shortcuts.items() if v})
    suite.task_train = {k: v for k, v in suite.task_train.items() if k in suite.tasks}
    if args.inits:  # contrasts naming arms that are no longer run are dropped with them
        from crossdomain.inits import canonical_init

        kept = {canonical_init(spec) for spec in args.inits}
        suite.contrasts = [c for c in suite.contrasts if all(canonical_init(a) in kept for a in c)]
    suite = apply_overrides(suite, args.overrides)
    validate_suite(suite, check_resources=True)
    return suite


def cmd_run(args) -> None:
    from crossdomain.config import to_yaml
    from crossdomain.runner import expand_units, run_suite

    suite = resolve_run_suite(args)
    data_dirs = tuple(args.data_dir)
    if args.show_config:
        print(to_yaml(suite))
        for unit in expand_units(suite, data_dirs):
            print(unit.unit_id)
        return
    out = args.out or Path("runs") / suite.name
    frame = run_suite(suite, out, data_dirs, progress=not args.no_progress)  # validated again, before any write
    failed = int((frame["status"] != "ok").sum())
    print(f"{len(frame)} units in {out}/units ({failed} failed); table: {out / 'results.csv'}")
    if not args.no_report:
        from crossdomain.report import write_report

        report_dir = write_report([out], out / "report")
        print(f"report: {report_dir / 'report.md'}")


def cmd_datasets(args) -> None:
    from crossdomain.data import prepare_task
    from crossdomain.tasks import available_tasks

    names = args.tasks or list(available_tasks())
    stats = [prepare_task(name, tuple(args.data_dir)).stats for name in names]
    if args.json:
        print(json.dumps(stats, indent=1))
        return
    from crossdomain.report.tables import datasets_table

    print(datasets_table(stats))


def cmd_report(args) -> None:
    from crossdomain.report import write_report

    if args.out is None and len(args.runs) > 1:
        raise ConfigError("report: several run folders need --out DIR for the merged report")
    out = args.out or args.runs[0] / "report"
    contrasts = [list(pair) for pair in args.contrasts] if args.contrasts else None
    print(f"report: {write_report(args.runs, out, metric=args.metric, contrasts=contrasts) / 'report.md'}")


def cmd_bench(args) -> None:
    from crossdomain.bench import run_bench

    run_bench(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"list": cmd_list, "run": cmd_run, "datasets": cmd_datasets, "report": cmd_report, "bench": cmd_bench}
    from crossdomain.models import ModelNotFoundError
    from crossdomain.record import RecordError
    from crossdomain.sources import SourceError

    try:
        handler[args.command](args)
    except (*USER_ERRORS, SourceError, ModelNotFoundError, RecordError) as error:
        print(f"crossdomain {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
