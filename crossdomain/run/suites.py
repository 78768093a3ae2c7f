"""Suites: named grids in YAML. Built-ins live in ``crossdomain/suites/``; any YAML path works too."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from crossdomain.config import ConfigError, ExecutionConfig, SuiteConfig, TrainConfig, build, migrate_moved_keys
from crossdomain.data.tasks import get_task
from crossdomain.registry import UnknownNameError, did_you_mean

BUILTIN_SUITE_DIR = Path(__file__).resolve().parents[1] / "suites"


def available_suites() -> dict[str, Path]:
    return {path.stem: path for path in sorted(BUILTIN_SUITE_DIR.glob("*.yaml"))}


def load_suite(name: str) -> SuiteConfig:
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        suites = available_suites()
        if name not in suites:
            raise UnknownNameError(f"Unknown suite {name!r}.{did_you_mean(name, list(suites))} "
                                   "(or give a path to a suite YAML file)")
        path = suites[name]
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
    # keys and types are checked here; the whole request once, by whatever runs or plans it (validate_suite)
    return build(SuiteConfig, migrate_moved_keys(data, str(path)) if isinstance(data, dict) else data, str(path))


def narrowed_to_arms(suite: SuiteConfig, specs: list[str]) -> SuiteConfig:
    """The suite on other init arms (``--inits``): the contrasts and per-arm settings of the suite's arms left out
    go with them, while a key naming no arm of the suite stays, so that validation still reports it."""
    from crossdomain.inits import canonical_init

    kept = {canonical_init(spec) for spec in specs}
    left_out = {canonical_init(spec) for spec in suite.inits} - kept
    return dataclasses.replace(
        suite, inits=list(specs),
        contrasts=[c for c in suite.contrasts if all(canonical_init(a) in kept for a in c)],
        arm_lr_grid={arm: grid for arm, grid in suite.arm_lr_grid.items() if arm not in left_out},
        task_arm_seeds={task: {arm: seeds for arm, seeds in by_arm.items() if arm not in left_out}
                        for task, by_arm in suite.task_arm_seeds.items()})


def fold_count(task_name: str) -> int:
    split = get_task(task_name).split
    return split.folds * split.repeats if split.kind == "kfold" else 1


def task_folds(task_name: str, wanted: list[int]) -> list[int]:
    """The folds of a task to run: ``wanted`` for k-fold tasks (all when empty), the single split otherwise."""
    count = fold_count(task_name)
    return list(wanted) if wanted and count > 1 else list(range(count))


def validate_train(train: TrainConfig, where: str) -> None:
    checks = [
        (train.lr > 0, "lr", "a learning rate > 0"),
        (train.batch_size >= 1, "batch_size", ">= 1"),
        (train.grad_accum >= 1, "grad_accum", ">= 1"),
        (train.max_length >= 3, "max_length", ">= 3 ([CLS], one symbol, [SEP])"),
        (train.max_steps > 0 or train.epochs > 0, "epochs", "> 0 when max_steps is not set"),
        (0 <= train.warmup_ratio < 1, "warmup_ratio", "in [0, 1)"),
        (train.eval_every >= 1, "eval_every", ">= 1"),
        (train.early_stopping_patience >= 0, "early_stopping_patience", ">= 0"),
        (train.early_stopping_min_steps >= 0, "early_stopping_min_steps", ">= 0"),
        (train.max_train_examples >= 0 and train.max_eval_examples >= 0, "max_train_examples", ">= 0"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise ConfigError(f"{where}.{key}: expected {expected}, got {getattr(train, key)!r}")


def validate_execution(execution: ExecutionConfig, where: str) -> None:
    checks = [
        (execution.eval_batch_size >= 1, "eval_batch_size", ">= 1"),
        (execution.threads >= 0, "threads", ">= 0 (0 = all cores)"),
        (execution.device in ExecutionConfig.DEVICES, "device", f"one of {', '.join(ExecutionConfig.DEVICES)}"),
        (execution.checkpoint_minutes >= 0, "checkpoint_minutes", ">= 0 (0 = never)"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise ConfigError(f"{where}.{key}: expected {expected}, got {getattr(execution, key)!r}")


def _check_seed_list(seeds: list[int], where: str) -> None:
    """A per-task or per-arm seed list replaces the suite's seeds, so it may not be empty or repeat a seed."""
    if not seeds:
        raise ConfigError(f"{where}: expected at least one seed, got []")
    _unique(seeds, where)


def _unique(values: list, where: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        raise ConfigError(f"{where}: {repeated} given more than once (each would run the same units twice)")


def validate_suite(suite: SuiteConfig, check_resources: bool = False) -> None:
    """Fail before any training starts: tasks, folds, arms, contrasts, mapping, hooks, training values.

    With ``check_resources`` the model is resolved too (alias, local folder or a Hub id that loads) and
    every arm checks its parameters against the model's config.
    """
    where = f"suite {suite.name!r}"
    check_tasks_and_folds(suite, where)
    check_training(suite, where)
    arms = check_arms(suite, where)
    check_plugins_and_axes(suite, where)
    specs = [arm.spec for arm in arms]
    check_arm_seeds(suite, specs, where)
    check_learning_rates(suite, specs, where)
    if check_resources:
        check_model_and_arms(suite, arms)


def _names_tasks(suite: SuiteConfig, key: str, names, where: str) -> None:
    for task in names:
        if task not in suite.tasks:
            raise ConfigError(f"{where}: {key} names {task!r}, which is not one of its tasks."
                              f"{did_you_mean(task, suite.tasks)}")


def check_tasks_and_folds(suite: SuiteConfig, where: str) -> None:
    for task in suite.tasks:
        get_task(task)
    _unique(suite.tasks, f"{where}: tasks")
    for key in SuiteConfig.PER_TASK_KEYS:
        _names_tasks(suite, key, getattr(suite, key), where)
    _unique(suite.seeds, f"{where}: seeds")
    for task, seeds in suite.task_seeds.items():
        _check_seed_list(seeds, f"{where}: task_seeds.{task}")
    _unique(suite.mapping_seeds, f"{where}: mapping_seeds")
    for task in suite.tasks:
        count = fold_count(task)
        beyond = [f for f in suite.folds if not 0 <= f < count]
        if count > 1 and beyond:
            raise ConfigError(f"{where}: folds {beyond} do not exist for {task!r} (it has folds 0..{count - 1})")


def check_training(suite: SuiteConfig, where: str) -> None:
    for task in suite.tasks:
        where_train = f"{where}: train" if task not in suite.task_train else f"{where}: task_train.{task}"
        validate_train(suite.train_for(task), where_train)
    validate_execution(suite.execution, f"{where}: execution")


def check_arms(suite: SuiteConfig, where: str) -> list:
    """The arms (parsed), their contrasts and the declared full and reference arms."""
    from crossdomain.inits import parse_init

    if not suite.inits:
        raise ConfigError(f"{where}: inits is empty; give at least one init arm")
    arms = [parse_init(spec) for spec in suite.inits]
    specs = [arm.spec for arm in arms]
    _unique(specs, f"{where}: inits")
    for pair in suite.contrasts:
        if len(pair) != 2:
            raise ConfigError(f"{where}: contrasts: each contrast is [treatment, control], got {pair!r}")
        for spec in pair:
            if parse_init(spec).spec not in specs:
                raise ConfigError(f"{where}: contrast {pair!r} names arm {spec!r}, which is not in inits."
                                  f"{did_you_mean(spec, specs)}")
        if parse_init(pair[0]).spec == parse_init(pair[1]).spec:
            raise ConfigError(f"{where}: contrast {pair!r} compares an arm with itself")
    for role in ("full_arm", "reference_arm"):
        declared = getattr(suite, role)
        if declared != getattr(SuiteConfig, role) and declared not in specs:  # the defaults may be absent
            raise ConfigError(f"{where}: {role} {declared!r} is not one of its inits' canonical specs."
                              f"{did_you_mean(declared, specs)}")
    return arms


def check_plugins_and_axes(suite: SuiteConfig, where: str) -> None:
    from crossdomain.baselines import BASELINES
    from crossdomain.training.hooks import HOOKS
    from crossdomain.training.mapping import MAPPINGS

    MAPPINGS.get(suite.mapping)
    for hook in suite.hooks:
        HOOKS.get(hook)
    for name in suite.baselines:  # each runs on the tasks of its types (see grid.baseline_units)
        BASELINES.get(name)
    _unique(suite.baselines, f"{where}: baselines")
    _unique(suite.models, f"{where}: models")
    _unique(suite.train_sizes, f"{where}: train_sizes")
    if any(size < 0 for size in suite.train_sizes):
        raise ConfigError(f"{where}: train_sizes: expected sizes >= 0 (0 = the whole training split), "
                          f"got {suite.train_sizes}")


def _names_arms(suite: SuiteConfig, key: str, names, specs: list[str], where: str) -> None:
    """Per-arm settings are keyed by canonical spec, as records and reports name arms."""
    from crossdomain.inits import parse_init

    for arm in names:
        if arm not in specs:
            canonical = {spec: parse_init(spec).spec for spec in suite.inits}
            hint = f" (write it as {canonical[arm]!r})" if arm in canonical else did_you_mean(arm, specs)
            raise ConfigError(f"{where}: {key} names {arm!r}, which is not one of its inits' canonical specs.{hint}")


def check_arm_seeds(suite: SuiteConfig, specs: list[str], where: str) -> None:
    for task, by_arm in suite.task_arm_seeds.items():
        _names_arms(suite, f"task_arm_seeds.{task}", by_arm, specs, where)
        for arm, seeds in by_arm.items():
            _check_seed_list(seeds, f"{where}: task_arm_seeds.{task}.{arm}")


def check_learning_rates(suite: SuiteConfig, specs: list[str], where: str) -> None:
    _names_arms(suite, "arm_lr_grid", suite.arm_lr_grid, specs, where)
    for task in suite.tasks:
        for arm in [None, *suite.arm_lr_grid]:
            grid = suite.lr_grid_for(task, arm)
            label = f"{task!r}" + (f", arm {arm!r}" if arm else "")
            if any(lr <= 0 for lr in grid):
                raise ConfigError(f"{where}: lr_grid for {label}: expected learning rates > 0, got {grid}")
            _unique(grid, f"{where}: lr_grid for {label}")
    for task, count in suite.task_lr_selection_folds.items():
        runnable = len(task_folds(task, suite.folds))
        if not 1 <= count <= runnable:
            raise ConfigError(f"{where}: task_lr_selection_folds.{task}: expected 1 to {runnable} (the folds run), "
                              f"got {count}")


def check_model_and_arms(suite: SuiteConfig, arms) -> None:
    """Every model of the model axis loads, fits each task's length, and takes every arm."""
    from crossdomain.training.models import check_model

    for model in suite.model_axis():
        config = check_model(model)
        positions = getattr(config, "max_position_embeddings", None)
        for task in suite.tasks:
            length = suite.train_for(task).max_length
            if positions and length > positions:
                raise ConfigError(f"suite {suite.name!r}: max_length {length} for {task!r} exceeds the {positions} "
                                  f"positions of model {model!r}")
        for arm in arms:
            try:
                arm.check(config)
            except ValueError as error:
                raise ConfigError(f"suite {suite.name!r}: init {arm.spec!r} on model {model!r}: {error}") from error
