import pytest
import yaml

from crossdomain.config import ConfigError, SuiteConfig, TrainConfig, apply_overrides, to_yaml
from crossdomain.run.suites import load_suite


def suite():
    return SuiteConfig(name="t", tasks=["dna/splice"])


def test_override_converts_and_type_checks():
    updated = apply_overrides(suite(), ["train.lr=5e-5", "train.epochs=2", "seeds=[3,4]", "execution.bf16=false",
                                        "model=tiny"])
    assert updated.train.lr == 5e-5 and isinstance(updated.train.lr, float)
    assert updated.train.epochs == 2.0 and updated.seeds == [3, 4] and updated.execution.bf16 is False
    assert updated.model == "tiny"


def test_comma_list_override():
    assert apply_overrides(suite(), ["seeds=0,1,2"]).seeds == [0, 1, 2]


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match=r"train\.batch_size: expected int, got 'big'"):
        apply_overrides(suite(), ["train.batch_size=big"])
    with pytest.raises(ConfigError, match=r"train\.max_steps: expected int, got '2\.5'"):
        apply_overrides(suite(), ["train.max_steps=2.5"])


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"--set train\.lerning_rate: unknown key 'lerning_rate'\..* Valid: "
                                          r"batch_size, early_stopping_min_steps, ") as caught:
        apply_overrides(suite(), ["train.lerning_rate=1"])
    assert "IDENTITY_IF_CHANGED" not in str(caught.value)  # class constants are not keys
    with pytest.raises(ConfigError, match=r"Did you mean 'eval_every'"):
        apply_overrides(suite(), ["train.eval_evry=10"])
    with pytest.raises(ConfigError, match=r"Did you mean 'seeds'"):
        apply_overrides(suite(), ["sedes=1"])


def test_missing_equals_is_explained():
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE"):
        apply_overrides(suite(), ["train.lr"])


def test_suite_yaml_typo_names_file_and_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ntasks: [dna/splice]\ntrain: {lr: 1.0e-4, epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml\.train: unknown key 'epoch'.*Did you mean 'epochs'"):
        load_suite(str(path))


def test_suite_unknown_task_suggests():
    from crossdomain.run.suites import validate_suite

    with pytest.raises(KeyError, match=r"Unknown task 'dna/splise'.*Did you mean 'dna/splice'"):
        validate_suite(SuiteConfig(name="x", tasks=["dna/splise"]))


def test_unknown_suite_suggests():
    with pytest.raises(KeyError, match=r"Did you mean 'smoke'"):
        load_suite("smok")


def test_per_task_override_is_validated():
    config = SuiteConfig(name="x", tasks=["dna/splice"], task_train={"dna/splice": {"max_length": "128"}})
    assert config.train_for("dna/splice").max_length == 128
    assert config.train_for("dna/splice").lr == TrainConfig().lr
    bad = SuiteConfig(name="x", tasks=["dna/splice"], task_train={"dna/splice": {"max_lenght": 1}})
    with pytest.raises(ConfigError, match=r"Did you mean 'max_length'"):
        bad.train_for("dna/splice")


def test_builtin_suites_load_and_validate():
    from crossdomain.run.suites import available_suites, validate_suite

    assert load_suite("smoke").model == "tiny"
    assert len(load_suite("quick").tasks) == 6 and len(load_suite("paper").tasks) == 6
    for name in available_suites():
        validate_suite(load_suite(name))  # the whole request, without loading models


def test_the_library_and_the_command_line_share_one_precedence_rule():
    """A train.KEY override reaches every task, replacing a suite's per-task KEY; task_train.TASK.KEY targets one."""
    from crossdomain.cli import build_parser, resolve_run_suite

    quick = load_suite("quick")
    assert quick.train_for("dna/promoters").max_steps == 40 and quick.train_for("dna/splice").max_steps == 150
    library = apply_overrides(quick, ["train.max_steps=7", "task_train.dna/splice.max_steps=9"])
    cli = resolve_run_suite(build_parser().parse_args(["run", "--suite", "quick", "--set", "train.max_steps=7",
                                                       "--set", "task_train.dna/splice.max_steps=9"]))
    for suite in (library, cli):
        steps = {task: suite.train_for(task).max_steps for task in suite.tasks}
        assert steps == {**{task: 7 for task in suite.tasks}, "dna/splice": 9}
        assert suite.train_for("dna/promoters").batch_size == 8  # other per-task keys stay


def test_a_per_task_override_is_typed_when_set_so_the_written_suite_records_numbers():
    updated = apply_overrides(load_suite("quick"), ["task_train.dna/splice.lr=1e-4",
                                                    "task_train.dna/splice.max_train_examples=0"])
    assert updated.task_train["dna/splice"]["lr"] == 1e-4 and updated.task_train["dna/splice"]["max_train_examples"] == 0
    written = yaml.safe_load(to_yaml(updated))["task_train"]["dna/splice"]
    assert (written["lr"], written["max_train_examples"]) == (1e-4, 0)
    with pytest.raises(ConfigError, match=r"task_train\.dna/splice\.epochs: expected float, got 'many'"):
        apply_overrides(load_suite("quick"), ["task_train.dna/splice.epochs=many"])


def test_execution_settings_moved_out_of_train_still_read_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match=r"--set train\.threads: train\.threads is now execution\.threads"):
        updated = apply_overrides(suite(), ["train.threads=1", "train.lr=1e-3"])
    assert updated.execution.threads == 1 and updated.train.lr == 1e-3
    with pytest.warns(DeprecationWarning, match=r"train\.save_model is now hooks: \[save-model\]"):
        assert apply_overrides(suite(), ["train.save_model=true"]).hooks == ["save-model"]
    old = tmp_path / "old.yaml"
    old.write_text("name: old\ntasks: [dna/splice]\ntrain: {lr: 1.0e-3, eval_batch_size: 32, bf16: false}\n")
    with pytest.warns(DeprecationWarning, match=r"old\.yaml: train\.eval_batch_size is now execution"):
        loaded = load_suite(str(old))
    assert (loaded.execution.eval_batch_size, loaded.execution.bf16, loaded.train.lr) == (32, False, 1e-3)
    with pytest.raises(ConfigError, match=r"execution\.device: expected one of auto, cpu, got 'gpu'"):
        from crossdomain.run.suites import validate_suite

        validate_suite(apply_overrides(suite(), ["execution.device=gpu"]))


SCHEMA_2_TRAIN_FIELDS = {"lr", "epochs", "max_steps", "batch_size", "eval_batch_size", "grad_accum", "warmup_ratio",
                         "weight_decay", "eval_every", "early_stopping_patience", "max_length", "max_train_examples",
                         "max_eval_examples", "bf16", "prune_vocab", "group_by_length", "threads"}


def test_new_train_fields_do_not_change_the_ids_of_earlier_runs():
    """A field added to TrainConfig must be hashed only when changed from its default; the execution settings
    that left it (schema 4) were never hashed."""
    import dataclasses

    from crossdomain.config import ExecutionConfig

    moved = {f.name for f in dataclasses.fields(ExecutionConfig)} & SCHEMA_2_TRAIN_FIELDS
    assert moved == {"threads", "eval_batch_size", "bf16"}
    new = {f.name for f in dataclasses.fields(TrainConfig)} - SCHEMA_2_TRAIN_FIELDS
    assert new <= set(TrainConfig.IDENTITY_IF_CHANGED), new
    assert set(TrainConfig().identity()) == SCHEMA_2_TRAIN_FIELDS - moved


def test_a_negative_early_stopping_minimum_is_refused_before_any_work():
    from crossdomain.run.suites import validate_suite

    with pytest.raises(ConfigError, match=r"train\.early_stopping_min_steps: expected >= 0, got -5"):
        validate_suite(apply_overrides(suite(), ["train.early_stopping_min_steps=-5"]))
    changed = TrainConfig(early_stopping_min_steps=100).identity()
    assert changed["early_stopping_min_steps"] == 100  # set, it is part of the unit id; at 0 it is not


def test_seeds_replace_task_seeds_in_the_library_as_on_the_command_line():
    from crossdomain.cli import build_parser, resolve_run_suite

    reference = load_suite("reference-cpu")
    assert len(reference.seeds_for("dna/promoters")) == 24 and len(reference.seeds_for("dna/splice")) == 6
    library = apply_overrides(reference, ["seeds=[3]", "task_seeds.dna/splice=[4]"])
    cli = resolve_run_suite(build_parser().parse_args(["run", "--suite", "reference-cpu", "--seeds", "3",
                                                       "--set", "task_seeds.dna/splice=[4]"]))
    for suite in (library, cli):
        assert {task: suite.seeds_for(task) for task in suite.tasks} == {
            **{task: [3] for task in suite.tasks}, "dna/splice": [4]}
