"""Command line: ``crossdomain {list,run,status,datasets,report,compare,analyze,bench}`` (also ``python -m crossdomain``)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from crossdomain.adapters import AdapterError
from crossdomain.config import ConfigError, apply_overrides
from crossdomain.registry import PluginLoadError, UnknownNameError

USER_ERRORS = (ConfigError, UnknownNameError, AdapterError, FileNotFoundError, PluginLoadError)


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

    _add_run_command(commands)
    _add_datasets_command(commands)
    _add_analyze_command(commands)
    _add_status_command(commands)
    _add_report_command(commands)
    _add_compare_command(commands)
    _add_bench_command(commands)
    return parser


def _add_run_command(commands) -> None:
    run = commands.add_parser("run", help="run every unit of a suite (resumable), then write the report",
                              description="Run task × fold × init × seed × mapping-seed units. Re-running on the "
                                          "same --out skips finished units; failed units are recorded and retried.")
    run.add_argument("--suite", required=True, help="built-in suite name (smoke, quick, paper) or a suite YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<suite>)")
    run.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks (names as in `crossdomain list`)")
    run.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                     help="training seeds, on every task and arm (replace the suite's seeds, task_seeds and "
                          "task_arm_seeds)")
    run.add_argument("--mapping-seeds", nargs="+", type=int, metavar="SEED", help="token-mapping seeds")
    run.add_argument("--inits", nargs="+", metavar="ARM",
                     help="init arms (replace the suite's), e.g. pretrained random stats-matched pretrained-layers:k=3 "
                          "frozen:base=random (see `crossdomain list`)")
    run.add_argument("--model", help="model alias, Hugging Face id or local folder (replaces the suite's)")
    run.add_argument("--models", nargs="+", metavar="MODEL", help="a model axis: run the grid on each of these models")
    run.add_argument("--train-sizes", nargs="+", type=int, metavar="N",
                     help="a data axis: run the grid with each training-set size (0 = the whole split)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="override a suite key, type-checked, e.g. --set train.lr=5e-5 --set train.epochs=2 "
                          "(see `crossdomain run --suite NAME --show-config` for the keys)")
    run.add_argument("--show-config", action="store_true",
                     help="print the resolved suite as YAML, with the effective training config of each task; run nothing")
    run.add_argument("--show-units", action="store_true", help="print the unit ids the suite expands to; run nothing")
    run.add_argument("--until", choices=["selection"], default=None,
                     help="selection: run the baselines and the lr selection, write the plan with each arm's chosen "
                          "lr, and stop before the main grid (a later run without --until goes on from there)")
    run.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--allow-mixed-precision", action="store_true",
                     help="add units to a run even where they would train in another precision than its finished "
                          "units (by default refused: e.g. a bf16 run resumed on a CPU without native bf16)")
    _add_executor_options(run)
    _add_data_dir(run)


def _add_executor_options(run) -> None:
    """How and where the units of `run` execute: local workers and threads, or SLURM."""
    run.add_argument("--executor", default="auto",
                     help="how units run: auto (default: on a CPU one single-thread worker per core, on one GPU "
                          "in-process, on several GPUs one worker each), sequential (in this process, all cores), "
                          "processes (local workers) or slurm (submitit job arrays)")
    run.add_argument("--workers", type=int, default=0, help="auto, processes: parallel workers (default: one per GPU, "
                                                            "else one per core for auto, cores ÷ threads per worker "
                                                            "for processes)")
    run.add_argument("--threads-per-worker", type=int, default=0,
                     help="auto, processes: torch threads per worker (default: 1 for auto, cores ÷ workers for "
                          "processes; never more threads than cores)")
    run.add_argument("--slurm-partition", default="", help="slurm: partition")
    run.add_argument("--slurm-time", type=int, default=120, metavar="MIN", help="slurm: time limit per unit (minutes)")
    run.add_argument("--slurm-gpus", type=int, default=0, help="slurm: GPUs per unit")
    run.add_argument("--slurm-cpus", type=int, default=4, help="slurm: CPUs per unit")
    run.add_argument("--slurm-mem", type=int, default=16, metavar="GB", help="slurm: memory per unit (GB)")
    run.add_argument("--slurm-array-parallelism", type=int, default=32, help="slurm: array tasks running at once")
    run.add_argument("--dry-run", action="store_true", help="slurm: print what would be submitted, submit nothing")


def _add_datasets_command(commands) -> None:
    datasets = commands.add_parser("datasets", help="table of every task: sources, rows, drops, classes, lengths, splits")
    datasets.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="tasks to show (default: all)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets.add_argument("--checksums", action="store_true",
                          help="print the sha256 of each source as found (to write a new task definition); "
                               "reads no records")
    _add_data_dir(datasets)


def _add_analyze_command(commands) -> None:
    analyze = commands.add_parser("analyze", help="look inside the models: layer probes, attention, CKA, embeddings")
    analyze.add_argument("run", type=Path, help="run folder")
    analyze.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks")
    analyze.add_argument("--examples", type=int, default=256, help="items sampled from each split (default 256)")
    analyze.add_argument("--analyses", nargs="+", metavar="NAME", help="only these analyses (see `crossdomain list`)")
    analyze.add_argument("--all-seeds", action="store_true", help="every unit, not one per task and arm")
    analyze.add_argument("--redraw", action="store_true",
                         help="only redraw the figures (and captions) of RUN/analysis/ from its CSV files; no model "
                              "is loaded and no number changes")
    analyze.add_argument("--retrain", action="store_true",
                         help="re-train, from their records, the analysed units whose fine-tuned weights are missing "
                              "(weights are git-ignored), so that every arm gets the after-fine-tuning half; each "
                              "re-run is checked against its record; runs with the executor options below")
    _add_executor_options(analyze)
    _add_data_dir(analyze)


def _add_status_command(commands) -> None:
    status = commands.add_parser("status", help="units done / failed / running / pending of a run, with a projection")
    status.add_argument("run", type=Path, help="run folder")


def _add_report_command(commands) -> None:
    report = commands.add_parser("report", help="tables and figures comparing the arms of one or more run folders")
    report.add_argument("runs", nargs="+", type=Path, help="run folder(s) holding units/*.json")
    report.add_argument("--out", type=Path, help="report folder (default: RUN/report for one run)")
    report.add_argument("--metric", default="primary",
                        help="metric to compare: primary (each task's own), or any metric of the table "
                             "(accuracy, macro_f1, mcc; spearman, pearson, rmse, r2)")
    report.add_argument("--contrast", nargs=2, action="append", metavar=("TREATMENT", "CONTROL"), dest="contrasts",
                        help="a pair of arms to compare (repeatable); default: the run's suite contrasts, else every "
                             "arm against random")


def _add_compare_command(commands) -> None:
    compare = commands.add_parser("compare", help="the same units run twice (e.g. bf16 vs fp32): paired differences",
                                  description="Match the units of two run folders by unit id (same computation, "
                                              "other execution: precision, threads, machine, commit) and report the "
                                              "paired difference of the test metric, A − B, per task and pooled.")
    compare.add_argument("run_a", type=Path, help="run folder A")
    compare.add_argument("run_b", type=Path, help="run folder B")
    compare.add_argument("--metric", default="primary", help="primary (each task's own), accuracy, macro_f1 or mcc")
    compare.add_argument("--out", type=Path, help="also write comparison.md, comparison.csv and pairs.csv here")


def _add_bench_command(commands) -> None:
    bench = commands.add_parser("bench", help="training throughput: the plain Hugging Face recipe (fp32 and bf16) vs "
                                              "crossdomain's own pipeline")
    bench.add_argument("--model", default="minilm-l6", help="model alias, id or folder (default minilm-l6)")
    bench.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="tasks to measure (default: the quick suite's)")
    bench.add_argument("--steps", type=int, default=12, help="training steps per measurement")
    bench.add_argument("--batch-size", type=int, default=16, help="sequences per step")
    bench.add_argument("--lr", type=float, default=5e-5,
                       help="peak learning rate of both arms (with enough --steps, dev accuracy is the two-arm check)")
    bench.add_argument("--max-length", type=int, default=64, help="tokens per sequence, including [CLS]/[SEP]")
    bench.add_argument("--repeats", type=int, default=3, help="alternating repetitions of the recipes (medians reported)")
    bench.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's default, all cores)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_data_dir(bench)

def _listed(names, describe) -> None:
    """One line per entry; an entry that fails to load (a broken plugin or task file) says so and the list goes on."""
    for name in names:
        try:
            print(f"  {describe(name)}")
        except Exception as error:  # noqa: BLE001 - list must survive any one broken entry
            print(f"  {name:<22} BROKEN: {error.__class__.__name__}: {error}")


def cmd_list(args) -> None:
    from crossdomain.adapters import ADAPTERS
    from crossdomain.analysis import ANALYSES
    from crossdomain.baselines import BASELINES
    from crossdomain.data.tasks import available_tasks, get_task
    from crossdomain.executors import EXECUTORS
    from crossdomain.inits import INITS
    from crossdomain.run.suites import available_suites, load_suite
    from crossdomain.training.hooks import HOOKS
    from crossdomain.training.mapping import MAPPINGS
    from crossdomain.training.models import ALIASES

    def task_line(name):
        task = get_task(name)
        kind = "regression" if task.is_regression else f"labels={len(task.labels)}"
        return f"{name:<22} v{task.version}  adapter={task.adapter:<8} {kind:<10}  primary={task.primary_metric}"

    def suite_line(name):
        suite = load_suite(name)
        more = "".join(f", {task}: {len(seeds)}" for task, seeds in suite.task_seeds.items())
        more += "".join(f", {task} {arm}: {len(seeds)}"
                        for task, by_arm in suite.task_arm_seeds.items() for arm, seeds in by_arm.items())
        return (f"{name:<14} model={suite.model:<10} {len(suite.tasks)} tasks × {len(suite.inits)} arms × seeds "
                f"{suite.seeds}{more}  ({suite.expected_cost})")

    def arm_line(name):
        arm = INITS.get(name)
        params = ", ".join(_describe_field(f) for f in dataclasses.fields(arm))
        return f"{name + (f' ({params})' if params else ''):<30} {arm.summary()}"

    print("adapters:")
    _listed(ADAPTERS.names(), lambda name: f"{name:<12} {ADAPTERS.get(name).description}")
    print("tasks:")
    _listed(available_tasks(), task_line)
    print("suites:")
    _listed(available_suites(), suite_line)
    print("init arms (NAME or NAME:KEY=VALUE[,KEY=VALUE]):")
    _listed(INITS.names(), arm_line)
    print("baselines:")
    _listed(BASELINES.names(), lambda name: f"{name:<12} {BASELINES.get(name).summary()}")
    print("models (aliases; any Hugging Face id or local folder also works):")
    _listed(ALIASES, lambda name: f"{name:<10} {ALIASES[name][0]}")
    print("mapping strategies:")
    _listed(MAPPINGS.names(), lambda name: f"{name:<12} {(MAPPINGS.get(name).__doc__ or '').strip().splitlines()[0]}")
    print("analyses (crossdomain analyze):")
    _listed(ANALYSES.names(), lambda name: f"{name:<14} {(ANALYSES.get(name).__doc__ or '').strip().splitlines()[0]}")
    print("executors (--executor):")
    _listed(EXECUTORS.names(), lambda name: f"{name:<12} {EXECUTORS.get(name).summary()}")
    print("post-training hooks:")
    _listed(HOOKS.names(), lambda name: f"{name:<12} {(HOOKS.get(name).__doc__ or '').strip()}")


def _describe_field(field) -> str:
    kind = getattr(field.type, "__name__", field.type)
    default = "" if field.default is dataclasses.MISSING else f"={field.default}"
    return f"{field.name}: {kind}{default}"


def resolve_run_suite(args):
    from crossdomain.run.suites import load_suite, narrowed_to_arms

    suite = load_suite(args.suite)
    if args.tasks:
        suite = suite.narrowed_to(args.tasks)
    if args.inits:  # contrasts and per-arm settings of arms that are no longer run are dropped with them
        suite = narrowed_to_arms(suite, args.inits)
    shortcuts = {"mapping_seeds": args.mapping_seeds,
                 "model": args.model, "models": args.models, "train_sizes": args.train_sizes}
    suite = dataclasses.replace(suite, **{k: v for k, v in shortcuts.items() if v})
    if args.model and not args.models:  # one model asked for: the suite's model axis gives way
        suite.models = []
    seeds = [f"seeds={args.seeds}"] if args.seeds else []  # an override: it replaces task(_arm)_seeds too
    return apply_overrides(suite, seeds + args.overrides)  # validated once, by whatever uses it (run_suite, --show-*)


def silence_progress_bars() -> None:
    """--no-progress: no bar at all, the libraries' own ("Loading weights", downloads) included."""
    import os

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub / transformers are imported
    os.environ["TQDM_DISABLE"] = "1"
    if "transformers" in sys.modules:  # already imported (e.g. in a long-lived process): switch its bars off too
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def make_run_executor(args):
    from crossdomain.executors import ExecutorOptions, make_executor

    for name in ("workers", "threads_per_worker", "slurm_time", "slurm_gpus", "slurm_cpus", "slurm_mem",
                 "slurm_array_parallelism"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')}: expected >= 0, got {getattr(args, name)}")
    if args.dry_run and args.executor != "slurm":
        raise ConfigError("--dry-run goes with --executor slurm")
    options = ExecutorOptions(
        workers=args.workers, threads_per_worker=args.threads_per_worker, slurm_partition=args.slurm_partition,
        slurm_time_min=args.slurm_time, slurm_gpus=args.slurm_gpus, slurm_cpus=args.slurm_cpus,
        slurm_mem_gb=args.slurm_mem, slurm_array_parallelism=args.slurm_array_parallelism, dry_run=args.dry_run)
    return make_executor(args.executor, options)


def cmd_analyze(args) -> int:
    from crossdomain.analysis import ANALYSES
    from crossdomain.data.sources import check_data_dirs

    check_data_dirs(args.data_dir)
    if args.examples < 8:
        raise ConfigError(f"--examples: expected >= 8, got {args.examples}")
    for name in args.analyses or []:
        ANALYSES.get(name)
    require_run_folders([args.run])
    if args.redraw and args.retrain:
        raise ConfigError("--redraw loads no model, so it cannot go with --retrain")
    if not args.retrain and (args.executor != "auto" or args.workers or args.threads_per_worker or args.dry_run):
        raise ConfigError("--executor, --workers, --threads-per-worker and --dry-run say how --retrain re-trains "
                          "units; without --retrain nothing is trained")
    executor = make_run_executor(args) if args.retrain else None
    if args.redraw:
        from crossdomain.analysis.analyze import redraw_analyses

        print(f"analysis: {redraw_analyses(args.run, args.analyses) / 'analysis.md'}")
        return 0
    from crossdomain.analysis.analyze import run_analyses

    silence_progress_bars()

    out = run_analyses(args.run, args.tasks, args.examples, args.analyses, args.all_seeds,
                       tuple(args.data_dir) or None, executor)  # default: where each unit found its data
    print(f"analysis: {out / 'analysis.md'}")
    return 0


def cmd_status(args) -> int:
    from crossdomain.run.status import run_status

    print(run_status(args.run))
    return 0


def effective_config(suite) -> dict:
    return {**dataclasses.asdict(suite),
            "effective_train": {task: dataclasses.asdict(suite.train_for(task)) for task in suite.tasks}}


def cmd_run(args) -> int:
    import yaml

    from crossdomain.data.sources import check_data_dirs
    from crossdomain.executors import EXECUTORS
    from crossdomain.run.grid import expand, run_suite
    from crossdomain.run.suites import validate_suite

    EXECUTORS.get(args.executor)  # an unknown executor is refused before anything else
    check_data_dirs(args.data_dir)
    if args.no_progress:
        silence_progress_bars()
    suite = resolve_run_suite(args)
    data_dirs = tuple(args.data_dir)
    if args.show_config or args.show_units:
        validate_suite(suite, check_resources=True)
        if args.show_config:
            print(yaml.safe_dump(effective_config(suite), sort_keys=False), end="")
        if args.show_units:
            expansion = expand(suite, data_dirs)
            selection = expansion.selection_units
            for label, group in (("baselines", expansion.baselines), ("lr selection", selection),
                                 ("main" + (" (lr replaced by each arm's selected lr)" if selection else ""),
                                  expansion.main)):
                if group:
                    print(f"# {label}: {len(group)} units")
                    print("\n".join(u.unit_id for u in group))
        return 0
    executor = make_run_executor(args)
    out = args.out or Path("runs") / suite.name
    if args.dry_run:
        from crossdomain.run.grid import plan_dry_run

        plan_dry_run(suite, out, data_dirs, executor)
        return 0
    frame = run_suite(suite, out, data_dirs, progress=not args.no_progress, executor=executor,  # validated again
                      until=args.until, allow_mixed_precision=args.allow_mixed_precision)
    failed = frame[frame["status"] != "ok"]
    print(f"{len(frame)} units in {out}/units ({len(failed)} failed; {frame.attrs.get('ran_here', 0)} run by this "
          f"process); table: {out / 'results.csv'}")
    if len(frame) > len(failed) and not args.no_report:
        from crossdomain.report import write_report

        report_dir = write_report([out], out / "report")
        print(f"report: {report_dir / 'report.md'}")
    if len(failed):
        first = failed.iloc[0]
        print(f"crossdomain run: {len(failed)} of {len(frame)} units failed (first: {first['unit_id']}: {first['error']}); "
              f"re-running the same command retries them", file=sys.stderr)
        return 1
    return 0


def cmd_datasets(args) -> None:
    from crossdomain.data.prepare import prepare_task
    from crossdomain.data.sources import check_data_dirs
    from crossdomain.data.tasks import available_tasks

    check_data_dirs(args.data_dir)
    if args.checksums:
        from crossdomain.data.prepare import found_checksums

        for row in found_checksums(args.tasks or list(available_tasks()), tuple(args.data_dir)):
            print("\t".join(row))
        return
    names = args.tasks or list(available_tasks())
    stats = [prepare_task(name, tuple(args.data_dir)).stats for name in names]
    if args.json:
        print(json.dumps(stats, indent=1))
        return
    from crossdomain.report.tables import datasets_table

    print(datasets_table(stats))


def require_metric(name: str) -> None:
    from crossdomain.metrics import METRICS
    from crossdomain.registry import did_you_mean

    metrics = ["primary", *METRICS]
    if name not in metrics:
        raise ConfigError(f"--metric {name!r} is not a metric.{did_you_mean(name, metrics)}")


def require_run_folders(run_dirs) -> None:
    for run_dir in run_dirs:
        if not (run_dir / "units").is_dir():
            raise ConfigError(f"{run_dir}: no units/ folder (is this a crossdomain run folder?)")


def cmd_report(args) -> int:
    require_metric(args.metric)
    if args.out is None and len(args.runs) > 1:
        raise ConfigError("report: several run folders need --out DIR for the merged report")
    require_run_folders(args.runs)
    from crossdomain.atomic import writable_folder_problem

    out = args.out or args.runs[0] / "report"
    problem = writable_folder_problem(out)
    if problem:
        raise ConfigError(f"report: the report folder {out} {problem}")
    from crossdomain.report import ReportError, write_report

    contrasts = [list(pair) for pair in args.contrasts] if args.contrasts else None
    try:
        warn = lambda message: print(f"crossdomain report: warning: {message}", file=sys.stderr)  # noqa: E731
        written = write_report(args.runs, out, metric=args.metric, contrasts=contrasts, on_unreadable=warn)
        print(f"report: {written / 'report.md'}")
    except ReportError as error:
        print(f"crossdomain report: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_compare(args) -> int:
    from crossdomain.atomic import atomic_write_text
    from crossdomain.report.compare import compare_runs, to_markdown

    require_metric(args.metric)
    require_run_folders([args.run_a, args.run_b])
    warn = lambda error: print(f"crossdomain compare: warning: {error}", file=sys.stderr)  # noqa: E731
    pairs, summary, unmatched = compare_runs(args.run_a, args.run_b, args.metric, on_error=warn)
    if pairs.empty:
        print(f"crossdomain compare: no unit id is finished in both {args.run_a} and {args.run_b}", file=sys.stderr)
        return 1
    text = to_markdown(summary, pairs, unmatched, args.run_a, args.run_b)
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out / "comparison.md", text)
        atomic_write_text(args.out / "comparison.csv", summary.to_csv(index=False))
        atomic_write_text(args.out / "pairs.csv", pairs.to_csv(index=False))
    return 0


def cmd_bench(args) -> None:
    from crossdomain.bench import run_bench

    run_bench(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"list": cmd_list, "run": cmd_run, "datasets": cmd_datasets, "report": cmd_report, "bench": cmd_bench,
               "status": cmd_status, "analyze": cmd_analyze, "compare": cmd_compare}
    from crossdomain.data.sources import SourceError
    from crossdomain.record import RecordError
    from crossdomain.run.provenance import MixedPrecisionError
    from crossdomain.training.models import ModelNotFoundError

    try:
        return handler[args.command](args) or 0
    except (*USER_ERRORS, SourceError, ModelNotFoundError, RecordError, MixedPrecisionError) as error:
        print(f"crossdomain {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
