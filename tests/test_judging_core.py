"""convclinic.judging core: records, limits, judging of malformed data, self-study check()."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from convclinic.judging import core, kernel
from convclinic.judging.core import Finding, Part, RecordError

SECRET = 987654


def _collect(answers, cases):
    sys.stderr.write("noise on sys.stderr\n")
    os.write(2, b"noise on fd 2\n")
    return [answers["double"](case) for case in cases]


def _judge(data, cases, hidden):
    if not isinstance(data, list) or len(data) != len(cases):
        raise TypeError("wrong length")
    findings = []
    for case, got in zip(cases, data, strict=True):
        ok = got == 2 * case
        findings.append(Finding("doubles its input", ok, f"double({case}) returned {got}, expected {2 * case}",
                                "a hidden case failed: double every number"))
    return findings


TOY = core.register(Part("zz-double", "Part 1 double", ("double",), (1, 2), _collect, _judge,
                         ("doubles its input",)))


def double(x):  # the "learner's" answer, looked up in this module's globals
    return 2 * x


def test_round_trip_keeps_types_and_arrays():
    value = {"a": (1, 2.5, None, True, "x"), "b": [np.arange(6, dtype="int16").reshape(2, 3),
                                                    np.linspace(0, 1, 4, dtype="float32")],
             "nan": float("nan"), "inf": float("-inf"), "np": np.int64(3), "flag": np.bool_(False)}
    text = json.dumps(core.encode(value))
    back = core.decode(json.loads(text))
    assert back["a"] == (1, 2.5, None, True, "x")
    assert back["b"][0].dtype == np.int16 and back["b"][0].shape == (2, 3)
    np.testing.assert_array_equal(back["b"][0], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(back["b"][1], np.linspace(0, 1, 4, dtype="float32"))
    assert np.isnan(back["nan"]) and back["inf"] == float("-inf")
    assert back["np"] == 3 and type(back["np"]) is int and back["flag"] is False


@pytest.mark.parametrize("value", [
    np.zeros(core.MAX_ARRAY_BYTES // 8 + 1), "x" * (core.MAX_STRING + 1), list(range(core.MAX_ITEMS + 1)),
    object(), np.array(["a"]), np.array([object()]), {1: 2}, {"__array__": 1}, 10 ** 50,
])
def test_encode_refuses_what_cannot_be_judged(value):
    with pytest.raises(RecordError):
        core.encode(value)


def test_encode_refuses_deep_nesting():
    value = []
    for _ in range(core.MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(RecordError):
        core.encode(value)


@pytest.mark.parametrize("data", [
    {"__array__": {"dtype": "<f8", "shape": [3], "data": "AAAA"}},
    {"__array__": {"dtype": "|O", "shape": [1], "data": ""}},
    {"__array__": {"dtype": "<f8", "shape": [-1], "data": ""}},
    {"__array__": {"dtype": "<f8", "shape": [1], "data": "not base64!"}},
    {"__array__": {"dtype": "<f8", "shape": [1]}},
    {"__tuple__": 3}, {"__float__": "1e999"}, {"a": {"__array__": 1}, "__tuple__": []},
])
def test_decode_refuses_malformed_records(data):
    with pytest.raises(RecordError):
        core.decode(data)


def test_read_record_checks_the_envelope_and_size():
    assert core.read_record({"grade_id": "x", "stage": "visible", "data": {}}) == ("x", "visible", {})
    for bad in ({"grade_id": "x", "stage": "later", "data": {}}, {"grade_id": "x"}, "[1]", "{not json",
                {"grade_id": "x", "stage": "hidden", "data": {"s": "y" * core.MAX_RECORD_BYTES}}):
        with pytest.raises(RecordError):
            core.read_record(bad)
    huge = core.make_record("x", "visible", {"collected": "y" * (core.MAX_RECORD_BYTES + 1)})
    assert "unreadable" in huge["data"]


@pytest.mark.parametrize("envelope", [
    None, {}, {"collected": {"__array__": "junk"}}, {"collected": [1]}, {"collected": "text"},
    {"nonsense": 1}, {"missing": "double"}, {"collected": [1, 2], "extra": 1},
])
def test_malformed_data_is_a_failed_finding_not_a_crash(envelope):
    findings = core.judge_records(TOY, envelope)
    assert findings and not any(f.ok for f in findings)
    passed, lines = core.verdict_lines(TOY, findings)
    assert not passed and lines[0].startswith("FAIL  Part 1 double: ")


def test_hidden_findings_show_only_hints():
    wrong = {"collected": [SECRET + 1]}
    findings = core.judge_records(TOY, {"collected": [2, 4]}, wrong, [SECRET])
    text = " ".join(f.message + f.hint for f in findings)
    assert str(SECRET) not in text and str(2 * SECRET) not in text
    assert "a hidden case failed: double every number" in text


def test_missing_and_raising_answers_are_named():
    assert "double is not defined" in core.judge_records(TOY, core.collect_answers(TOY, {}, (1,)))[0].message
    envelope = core.collect_answers(TOY, {"double": lambda x: 1 / 0}, (1,))
    assert envelope == {"raised": "ZeroDivisionError"}


def test_self_study_check_passes_quietly(capfd, monkeypatch):
    monkeypatch.delenv(core.GRADING_ENV, raising=False)
    kernel.check("zz-double")
    out, err = capfd.readouterr()
    assert out.strip() == "PASS  Part 1 double" and err == ""


def test_self_study_check_fails_with_assertion_and_no_stderr(capfd, monkeypatch):
    monkeypatch.delenv(core.GRADING_ENV, raising=False)
    monkeypatch.setitem(globals(), "double", lambda x: x + 1)
    with pytest.raises(AssertionError, match="double\\(1\\) returned 2, expected 2|double\\(2\\) returned 3"):
        kernel.check("zz-double")
    out, err = capfd.readouterr()
    assert out.startswith("FAIL  Part 1 double: ") and err == ""


def test_self_study_hidden_check_prints_hints_only(capfd, monkeypatch):
    monkeypatch.delenv(core.GRADING_ENV, raising=False)
    monkeypatch.setitem(globals(), "double", lambda x: x + 1)
    with pytest.raises(AssertionError):
        kernel.check.hidden("zz-double", [SECRET])
    out, err = capfd.readouterr()
    assert str(SECRET) not in out and str(SECRET + 1) not in out and err == ""
    assert "FAIL  Part 1 double: a hidden case failed" in out


def test_grading_mode_collects_without_judging(capfd, monkeypatch):
    monkeypatch.setenv(core.GRADING_ENV, "1")
    monkeypatch.setitem(globals(), "double", lambda x: x + 1)  # wrong: no AssertionError in grading mode
    assert kernel.check("zz-double") is None
    assert kernel.check.hidden("zz-double", [SECRET]) is None
    out, err = capfd.readouterr()
    assert "PASS" not in out and "FAIL" not in out and err == ""
    assert kernel.STASH["zz-double"]["double"](1) == 2


def test_unknown_part_is_a_key_error():
    with pytest.raises(KeyError):
        core.get_part("ex99-nothing")
    with pytest.raises(KeyError):
        core.get_part("no-prefix")


@pytest.mark.parametrize("spelling", ["positional", "keyword", "none", "experimental", "visible"])
def test_fake_tensorflow_accepts_every_spelling(spelling):
    tf, calls = kernel.fake_tensorflow(2)
    lister = {"positional": lambda: tf.config.list_physical_devices("GPU"),
              "keyword": lambda: tf.config.list_physical_devices(device_type="GPU"),
              "none": lambda: [d for d in tf.config.list_physical_devices() if d.device_type == "GPU"],
              "experimental": lambda: tf.config.experimental.list_physical_devices("GPU"),
              "visible": lambda: tf.config.get_visible_devices("GPU")}[spelling]
    for gpu in lister():
        tf.config.experimental.set_memory_growth(gpu, True)
    assert calls == [["set_memory_growth", "/physical_device:GPU:0", True],
                     ["set_memory_growth", "/physical_device:GPU:1", True]]
    assert json.loads(json.dumps(core.encode(calls))) == calls
    assert not hasattr(tf.config, "set_memory_growth")
