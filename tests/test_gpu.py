"""convclinic.gpu (lesson 05, "The GPU case").

Each test asserts what THIS machine has: GPU behaviour where TensorFlow sees a
GPU, the plain "No GPU" answers where it does not. None of them skips, so
``make test`` passes on a CPU machine and on a GPU machine alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from convclinic import gpu
from convclinic.outcome import Outcome
from tests.conftest import ROOT


def test_gpu_report_says_when_the_driver_sees_a_gpu_that_tensorflow_does_not():
    report = gpu.GpuReport("2.21.0", built_with_cuda=False, gpus=[],
                           driver_gpus=["GPU 0: NVIDIA H200"])
    assert not report.has_gpu
    assert "driver lists 1 (GPU 0: NVIDIA H200)" in report.explanation
    assert "not tensorflow-cpu" in report.explanation


def test_gpu_report_text_for_a_gpu_and_for_none():
    seen = gpu.GpuReport("2.21.0", built_with_cuda=True, gpus=["/physical_device:GPU:0 (H200)"],
                         driver_gpus=["GPU 0: NVIDIA H200"])
    assert str(seen).startswith("TensorFlow 2.21.0: TensorFlow sees 1 GPU(s): /physical_device:GPU:0")
    none = gpu.GpuReport("2.21.0", built_with_cuda=False, gpus=[], driver_gpus=[])
    assert str(none).startswith("TensorFlow 2.21.0: No GPU: TensorFlow sees no GPU device")


def test_memory_growth_report_explains_too_late_and_enabled():
    late = gpu.MemoryGrowthReport(
        gpus=["/physical_device:GPU:0"], enabled=[], too_late=True,
        error="Physical devices cannot be modified after being initialized",
    )
    assert "Too late" in str(late) and "before anything imports TensorFlow" in str(late)
    on = gpu.MemoryGrowthReport(gpus=["/physical_device:GPU:0"], enabled=["/physical_device:GPU:0"])
    assert str(on).startswith("Memory growth is on for /physical_device:GPU:0")


def test_mentions_cudnn_failure_reads_message_and_stderr():
    outcome = Outcome(error_type="UnknownError",
                      message="Failed to get convolution algorithm. This is probably because "
                              "cuDNN failed to initialize",
                      stderr="E0000 CUDNN_STATUS_INTERNAL_ERROR\n")
    assert gpu.mentions_cudnn_failure(outcome) == [
        "Failed to get convolution algorithm", "cuDNN failed to initialize", "CUDNN_STATUS",
    ]
    assert gpu.mentions_cudnn_failure(Outcome(value=1)) == []


def test_nvidia_smi_gpus_lists_only_gpu_lines():
    found = gpu.nvidia_smi_gpus()
    assert all(line.startswith("GPU") for line in found)


@pytest.mark.slow
def test_gpu_report_explains_itself_for_this_machine():
    report = gpu.gpu_report()
    assert report.tensorflow_version.startswith("2.")
    if report.has_gpu:
        assert f"sees {len(report.gpus)} GPU(s)" in str(report)
        assert all(name.startswith("/physical_device:GPU:") for name in report.gpus)
    else:
        assert report.gpus == []
        assert ": No GPU" in str(report)


@pytest.mark.slow
def test_enable_memory_growth_reports_and_sets_the_environment(monkeypatch):
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    report = gpu.enable_memory_growth()
    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    if report.gpus:
        # this process may have run an op already (other tests): then it is too late
        assert report.enabled == report.gpus or (
            report.too_late and "cannot be modified after being initialized" in report.error)
    else:
        assert (report.enabled, report.too_late) == ([], False)
        assert str(report).startswith("No GPU: nothing to do")


@pytest.mark.slow
def test_gpu_memory_contention_runs_both_processes_on_a_gpu_and_nothing_without():
    result = gpu.gpu_memory_contention(timeout=240)
    if not gpu.gpu_report().has_gpu:
        assert list(result) == ["skipped"] and result["skipped"].startswith("no GPU")
        return
    assert result["hog_memory_growth"] is False
    assert result["hog"].startswith("READY"), result
    assert isinstance(result["second_ok"], bool)
    if result["second_ok"]:
        assert result["second_value"]["output_shape"] == [8, 62, 62, 16]
        assert "GPU:0" in result["second_value"]["device"]
    else:
        assert result["second"], result


@pytest.mark.slow
def test_gpu_check_script_runs_and_writes_json(tmp_path):
    """benchmarks/gpu_check.py runs on this machine and writes its JSON (says 'no GPU' on a CPU)."""
    target = tmp_path / "gpu_check.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), str(target)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(target.read_text())
    assert result["tensorflow"].startswith("2.")
    for data_format, spatial in (("channels_last", [8, 62, 62, 16]), ("channels_first", [8, 16, 62, 62])):
        outcome = result["conv"][data_format]
        assert outcome["ok"], outcome
        assert outcome["output_shape"] == spatial and outcome["kernel_gradient_shape"] == [3, 3, 3, 16]
    if result["gpus_seen_by_tensorflow"]:
        assert result["conv_device"] == "/GPU:0"
        assert "GPU:0" in result["conv"]["channels_last"]["output_device"]
        assert result["contention_default"]["hog"].startswith("READY")
        assert result["contention_growth"]["hog_memory_growth"] is True
    else:
        assert result["conv_device"] == "/CPU:0"
        assert result["contention"] == "skipped: no GPU"
        assert "no GPU" in completed.stdout
