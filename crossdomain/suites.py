"""Suites: named grids in YAML. Built-ins live in ``crossdomain/suites/``; any YAML path works too."""
from __future__ import annotations

from pathlib import Path

import yaml

from crossdomain.config import ConfigError, SuiteConfig, build
from crossdomain.registry import UnknownNameError, did_you_mean
from crossdomain.tasks import get_task

BUILTIN_SUITE_DIR = Path(__file__).parent / "suites"


def available_suites() -> dict[str, Path]:
    return {path.stem: path for path in sorted(BUILTIN_SUITE_DIR.glob("*.yaml"))}


def load_suite(name: str) -> SuiteConfig:
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        suites = available_suites()
        if name not in suites:
            raise UnknownNameError(f"Unknown suite {name!r}.{did_you_mean(name, list(suites))} (or give a path to a suite YAML file)")
        path = suites[name]
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
    suite = build(SuiteConfig, data, str(path))
    validate_suite(suite)
    return suite


def validate_suite(suite: SuiteConfig) -> None:
    """Fail before any training starts: every task exists and every per-task override is valid."""
    for task in suite.tasks:
        get_task(task)
    for task in suite.task_train:
        if task not in suite.tasks:
            raise ConfigError(f"suite {suite.name!r}: task_train names {task!r}, which is not one of its tasks.{did_you_mean(task, suite.tasks)}")
        suite.train_for(task)
