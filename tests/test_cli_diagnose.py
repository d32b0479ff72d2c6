"""``convclinic diagnose MODEL_FILE`` and ``convclinic run SCRIPT``: the real command, real
saved models (Keras 3 ``.keras`` and a tf_keras ``.h5``), real exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from convclinic.cli import build_parser

pytestmark = pytest.mark.slow


def convclinic(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "convclinic.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    script = textwrap.dedent(f"""
        from convclinic.runtime import import_keras
        keras = import_keras()
        keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Conv2D(8, 3, name="conv"),
                          keras.layers.Flatten(), keras.layers.Dense(2)]).save(r"{folder}/rgb.keras")
        old = import_keras(legacy=True)
        old.Sequential([old.Input((None, None, 1)), old.layers.Conv2D(8, 30, name="big")]).save(
            r"{folder}/big_kernel.h5")
        old.Sequential([old.Input((28, 28, 1)), old.layers.Lambda(lambda t: t * 2.0),
                        old.layers.Conv2D(8, 3, name="conv")]).save(r"{folder}/lambda.h5")
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, capture_output=True)
    (folder / "corrupt.keras").write_text("this is not a zip archive")
    return folder


def test_a_broken_input_names_the_cause_and_exits_1(models):
    done = convclinic("diagnose", models / "rgb.keras", "--input-shape", "2,28,28,1")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("Diagnosis -- cause: channel_mismatch in layer 'conv'")
    assert "np.repeat(x, 3, axis=-1)" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_good_input_exits_0_with_the_real_output_shape(models):
    done = convclinic("diagnose", models / "rgb.keras", "--input-shape", "2,28,28,3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: output shape (2, 2)" in done.stdout


def test_an_h5_model_through_tf_keras(models):
    """A Keras 2 .h5 file whose 30x30 kernel does not fit 28x28: spatial_too_small."""
    done = convclinic("diagnose", models / "big_kernel.h5", "--input-shape", "1,28,28,1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "spatial_too_small" in done.stdout and "'big'" in done.stdout


def test_an_h5_file_keras3_cannot_read_is_loaded_with_tf_keras(models):
    """Keras 3 refuses a Keras 2 Lambda layer from an .h5 file; tf_keras loads it."""
    done = convclinic("diagnose", models / "lambda.h5", "--input-shape", "1,28,28,3", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["cause"], report["layer"], report["legacy"]) == ("channel_mismatch", "conv", True)
    plain = convclinic("diagnose", models / "big_kernel.h5", "--input-shape", "1,28,28,1",
                       "--json")
    assert json.loads(plain.stdout)["legacy"] is False  # Keras 3 read that one itself


def test_json_output_parses(models):
    done = convclinic("diagnose", models / "rgb.keras", "--input-shape", "(2, 28, 28)",
                      "--dtype", "uint8", "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["cause"] == "missing_channel_axis" and report["ok"] is False
    assert report["input_shape"] == [2, 28, 28]
    assert report["lesson"] == "notebooks/01-missing-channel-axis.ipynb"
    assert report["trace"][0]["layer"] == "conv"


@pytest.mark.parametrize("args,words", [
    (["missing.keras", "--input-shape", "1,28,28,1"], "no such file"),
    (["corrupt.keras", "--input-shape", "1,28,28,1"], "not a saved Keras model"),
    (["rgb.keras", "--input-shape", "1,28,x"], "is not a shape"),
    (["rgb.keras", "--input-shape", "1,0,28"], "is not a shape"),
    (["rgb.keras"], "required: --input-shape"),
], ids=["missing-file", "corrupt-file", "unparsable-shape", "zero-size", "no-shape"])
def test_usage_errors_exit_2_with_one_line(models, args, words):
    done = convclinic("diagnose", *args, cwd=models)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convclinic diagnose: error:"), done.stderr
    assert words in lines[0]


FAILING_SCRIPT = """\
import sys
import numpy as np
from convclinic.runtime import import_keras
keras = import_keras()
model = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Conv2D(8, 3, name="conv")])
print("arguments:", sys.argv[1:])
model.predict(np.zeros((28, 28, 3), "float32"), verbose=0)
"""


def test_run_a_failing_script_prints_the_traceback_then_the_diagnosis(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(FAILING_SCRIPT)
    done = convclinic("run", script, "--epochs", "3")
    assert done.returncode == 1
    assert "arguments: ['--epochs', '3']" in done.stdout
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert f'File "{script}", line 7, in <module>' in done.stderr
    traceback_end = done.stderr.index("+-- convclinic: missing_batch_axis")
    assert "ValueError" in done.stderr[:traceback_end]
    assert "np.expand_dims(x, axis=0)" in done.stderr[traceback_end:]


def test_run_keeps_the_scripts_own_status_and_adds_nothing(tmp_path):
    passing = tmp_path / "ok.py"
    passing.write_text("import sys\nprint('ran', sys.argv[1:])\nsys.exit(3)\n")
    done = convclinic("run", passing, "a")
    assert (done.returncode, done.stdout, done.stderr) == (3, "ran ['a']\n", "")
    unrelated = tmp_path / "keyerror.py"
    unrelated.write_text("{}['missing']\n")
    done = convclinic("run", unrelated)
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith("KeyError: 'missing'")
    assert "convclinic" not in done.stderr
    clean = tmp_path / "clean.py"
    clean.write_text("print('done')\n")
    assert convclinic("run", clean).returncode == 0


def test_release_and_grade_are_unchanged():
    parser = build_parser()
    args = parser.parse_args(["grade", "subs", "--out", "out", "--workers", "2"])
    assert (args.command, args.submissions, args.out, args.workers) == ("grade", "subs", "out", 2)
    args = parser.parse_args(["release", "01-channel-axis", "--dest", "d"])
    assert (args.command, args.assignment, args.dest) == ("release", "01-channel-axis", "d")
