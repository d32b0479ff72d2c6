"""Unit tests of convclinic.hardware (lesson 05): subprocess runner, Keras 2/3, GPU reports."""

from __future__ import annotations

import warnings

import pytest

from convclinic import hardware
from convclinic.probe import probe


def test_run_snippet_returns_the_value_and_the_extra_environment():
    result = hardware.run_snippet(
        "import os\nresult = os.environ['CONVCLINIC_PROBE_VARIABLE']",
        env={"CONVCLINIC_PROBE_VARIABLE": "seen"},
    )
    assert result.ok, result.message
    assert result.value == "seen"
    assert result.returncode == 0
    assert "CONVCLINIC_PROBE_VARIABLE=seen" in str(result)


def test_run_snippet_can_remove_a_variable(monkeypatch):
    monkeypatch.setenv("CONVCLINIC_PROBE_VARIABLE", "parent")
    result = hardware.run_snippet(
        "import os\nresult = os.environ.get('CONVCLINIC_PROBE_VARIABLE')",
        env={"CONVCLINIC_PROBE_VARIABLE": None},
    )
    assert result.ok and result.value is None


def test_run_snippet_reports_the_real_exception_and_keeps_stdout():
    result = hardware.run_snippet("print('before')\nraise KeyError('missing thing')")
    assert not result.ok
    assert result.error_type == "KeyError"
    assert "missing thing" in result.message
    assert "Traceback" in result.traceback and "<snippet>" in result.traceback
    assert result.stdout == "before"
    assert result.headline.startswith("KeyError: ")


def test_run_snippet_reports_a_crash_and_a_hang():
    crashed = hardware.run_snippet("import os\nos._exit(3)")
    assert (crashed.ok, crashed.error_type, crashed.returncode) == (False, "ProcessExited", 3)
    hung = hardware.run_snippet("import time\ntime.sleep(30)", timeout=2)
    assert (hung.ok, hung.error_type) == (False, "TimeoutExpired")


def test_outcome_of_records_value_or_error():
    assert hardware.outcome_of(lambda: 3).text == "works: 3"
    failed = hardware.outcome_of(lambda: {}["x"])
    assert (failed.ok, failed.error_type) == (False, "KeyError")


def test_keras_message_cuts_keras2_wrappers():
    text = (
        "Exception encountered when calling layer 'conv2d' (type Conv2D).\n\n"
        "The real problem.\n\nCall arguments received by layer 'conv2d' (type Conv2D):\n  • x"
    )
    assert hardware.keras_message(text) == "The real problem."


def test_side_by_side_runs_each_keras_module():
    outcomes = hardware.side_by_side(lambda keras: keras.__version__.split(".")[0])
    assert outcomes["Keras 2"].value == "2"
    assert outcomes["Keras 3"].value == "3"


def test_seed_claims_table_has_one_row_per_claim_with_both_kerases():
    table = hardware.seed_claims_table(hardware.SEED_CLAIMS[:2])
    assert [claim.key for claim, _ in table.rows] == ["example1_build", "example1_call"]
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "the article says" in html
    assert "keras 3." in str(table) and "tf_keras 2." in str(table)
    assert repr(table) == str(table)
    with pytest.raises(KeyError):
        table.outcome("no-such-claim")


def test_side_by_side_leaves_warning_filters_as_they_were():
    before = list(warnings.filters)
    hardware.side_by_side(lambda keras: keras.layers.Conv2D(8, 3, input_shape=(28, 28, 1)))
    assert warnings.filters == before


@pytest.mark.parametrize(
    "settings, phase",
    [
        (dict(input_shape=(1, 28, 28, 1), padding="invalid"), "construct"),
        (dict(input_shape=(28, 28, 1)), "build"),
        (dict(input_shape=(1, 28, 28, 1), dtype="uint8"), "call"),
    ],
)
def test_explain_phase_names_the_phase_probe_found(settings, phase):
    result = probe(**settings)
    assert result.phase == phase
    assert hardware.explain_phase(result).startswith(f"ValueError at {phase}: ")
    assert hardware.explain_phase(probe((1, 28, 28, 1))).startswith("No error")


def test_gpu_report_explains_itself_with_or_without_a_gpu():
    report = hardware.gpu_report()
    assert report.tensorflow_version.startswith("2.")
    if report.has_gpu:
        assert f"sees {len(report.gpus)} GPU" in str(report)
    else:
        assert report.gpus == []
        assert "No GPU" in str(report)


def test_gpu_report_says_when_the_driver_sees_a_gpu_that_tensorflow_does_not():
    report = hardware.GpuReport("2.21.0", built_with_cuda=False, gpus=[],
                                driver_gpus=["GPU 0: NVIDIA H200"])
    assert "driver lists 1 (GPU 0: NVIDIA H200)" in report.explanation
    assert "not tensorflow-cpu" in report.explanation


def test_enable_memory_growth_reports_and_sets_the_environment(monkeypatch):
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    report = hardware.enable_memory_growth()
    import os

    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    if report.gpus:
        assert report.enabled or report.too_late
    else:
        assert str(report).startswith("No GPU: nothing to do")


def test_memory_growth_report_explains_too_late():
    report = hardware.MemoryGrowthReport(
        gpus=["/physical_device:GPU:0"], enabled=[], too_late=True,
        error="Physical devices cannot be modified after being initialized",
    )
    assert "Too late" in str(report) and "before anything imports TensorFlow" in str(report)


def test_gpu_memory_contention_is_skipped_without_a_gpu():
    if hardware.gpu_report().has_gpu:
        pytest.skip("this machine has a GPU: benchmarks/gpu_check.py covers it")
    assert hardware.gpu_memory_contention()["skipped"].startswith("no GPU")


def test_environment_summary_names_every_version_a_bug_report_needs():
    summary = hardware.environment_summary()
    for key in ("python", "platform", "numpy", "tensorflow", "keras", "tf_keras", "gpus"):
        assert summary[key]
    assert summary["keras"].startswith("3.") and summary["tf_keras"].startswith("2.")


def test_count_input_shape_warnings_is_independent_of_history():
    assert len(hardware.count_input_shape_warnings(3)) == 1
    assert len(hardware.count_input_shape_warnings(3)) == 1


@pytest.mark.slow
def test_gpu_check_script_runs_and_writes_json(tmp_path):
    """benchmarks/gpu_check.py runs on this machine and writes its JSON (says 'no GPU' on a CPU)."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    target = tmp_path / "gpu_check.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), str(target)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(target.read_text())
    assert result["tensorflow"].startswith("2.")
    for data_format, spatial in (("channels_last", [8, 62, 62, 16]), ("channels_first", [8, 16, 62, 62])):
        outcome = result["conv"][data_format]
        assert outcome["ok"], outcome
        assert outcome["output_shape"] == spatial and outcome["kernel_gradient_shape"] == [3, 3, 3, 16]
    if result["gpus_seen_by_tensorflow"]:
        assert "contention_default" in result and "contention_growth" in result
    else:
        assert result["contention"] == "skipped: no GPU"
        assert "no GPU" in completed.stdout
