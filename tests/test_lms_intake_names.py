"""LMS intake, the fast part: time stamps, layouts, attempts, rosters and collection into
nbgrader's layout, without grading (no TensorFlow, no kernels). The real ``convclinic grade``
on each LMS's download is tests/grading/test_lms_intake.py.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import subprocess
import sys

import pytest

from convclinic.grading import lms
from convclinic.grading import submissions as intake
from tests.conftest import ROOT
from tests.fixtures.submissions.lms_downloads import (
    ASSIGNMENT,
    NOTEBOOK,
    attempt_name,
    canvas_name,
    moodle_name,
    notebooks,
    zip_download,
)

KNOWN = {ASSIGNMENT, "02-padding"}
CLI = [sys.executable, "-m", "convclinic.cli"]
UTC = dt.UTC


# --- time stamps -----------------------------------------------------------------------------


def test_every_minute_and_second_59_00_30_parses_to_its_own_digits():
    """Every minute 00-59 of every hour with seconds 59, 00 and 30: the digits are the time."""
    for hour in range(24):
        for minute in range(60):
            for second in (59, 0, 30):
                text = f"2026-03-02-{hour:02d}-{minute:02d}-{second:02d}"
                assert lms.parse_stamp(text) == dt.datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


def test_nbgrader_parse_utc_misreads_the_documented_stamp():
    """Why the grader parses stamps itself: nbgrader's parse_utc reads -17-45 as an offset and
    refuses a stamp ending in 59 (docs/pitfalls.md); if nbgrader fixes it this test says so."""
    from nbgrader.utils import parse_utc

    assert parse_utc("2026-03-02-17-45-10") != dt.datetime(2026, 3, 2, 17, 45, 10)
    with pytest.raises(ValueError):  # "Invalid timestamp string" or an offset out of range
        parse_utc("2026-03-02-17-45-59")
    assert lms.parse_stamp("2026-03-02-17-45-10") == dt.datetime(2026, 3, 2, 17, 45, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-03-02-17-45-60", "2026-02-30-10-00-00", "2026-13-01-00-00-00",
                                  "2026-03-02-24-00-00", "2026-03-02-17-45", "yesterday", ""])
def test_a_stamp_that_is_not_a_time_is_refused_by_name(text):
    with pytest.raises(ValueError, match="time stamp"):
        lms.parse_stamp(text)


def test_other_spellings_of_the_same_digits():
    expected = dt.datetime(2026, 3, 2, 17, 45, 59, tzinfo=UTC)
    for text in ("20260302174559", "2026-03-02 17:45:59", "2026-03-02T17:45:59", "2026_03_02_17_45_59"):
        assert lms.parse_stamp(text) == expected


def test_timestamp_txt_is_nbgrader_submit_format_and_nbgrader_reads_it_back():
    """timestamp.txt as ``nbgrader submit`` writes it; nbgrader's own reader gets the same time."""
    from nbgrader.utils import parse_utc

    stamp = lms.parse_stamp("2026-03-02-17-45-59")
    text = lms.timestamp_txt(stamp)
    assert text == "2026-03-02 17:45:59.000000 UTC"
    assert parse_utc(text) == dt.datetime(2026, 3, 2, 17, 45, 59)


# --- layouts ----------------------------------------------------------------------------------


def test_each_layout_is_detected_from_the_name():
    cases = {
        attempt_name(ASSIGNMENT, "alice", "2026-03-02-17-45-59", NOTEBOOK):
            ("attempt", "alice", ASSIGNMENT, NOTEBOOK, "2026-03-02 17:45:59"),
        attempt_name(ASSIGNMENT, "john_doe", "2026-03-02-17-45-59", NOTEBOOK):
            ("attempt", "john_doe", ASSIGNMENT, NOTEBOOK, "2026-03-02 17:45:59"),
        attempt_name("Lab 1_ Channel Axis", "jsmith", "2026-03-02-09-00-00", NOTEBOOK):
            ("attempt", "jsmith", "Lab 1_ Channel Axis", NOTEBOOK, "2026-03-02 09:00:00"),
        attempt_name("Lab 1 Channel Axis", "jsmith", "2026-03-02-09-00-00"):
            ("attempt", "jsmith", "Lab 1 Channel Axis", "", "2026-03-02 09:00:00"),
        canvas_name("Smith", "John", 123456, NOTEBOOK, 7890123):
            ("canvas", "123456", "", NOTEBOOK, "no time"),
        canvas_name("Smith", "John", 123456, NOTEBOOK, 7890124, late=True, resubmission=2):
            ("canvas", "123456", "", NOTEBOOK, "no time"),
        "download/" + moodle_name("John Smith", 1234, NOTEBOOK):
            ("moodle", "1234", "", NOTEBOOK, "no time"),
        moodle_name("Ana María López", 88, "data/extra.csv"):
            ("moodle", "88", "", "data/extra.csv", "no time"),
        "John Smith_1234_assignsubmission_file_01-channel-axis.ipynb":
            ("moodle", "1234", "", NOTEBOOK, "no time"),
    }
    for name, (layout, student, assignment, file_id, stamp) in cases.items():
        found = lms.classify(name, KNOWN)
        assert (found.layout, found.lms_id, found.assignment, found.file_id, lms.show_stamp(found.stamp)) == \
            (layout, student, assignment, file_id, stamp), name
    late = lms.classify(canvas_name("Smith", "John", 1, NOTEBOOK, 2, late=True, resubmission=2), KNOWN)
    assert late.late and late.resubmission == 2
    for name in ("notes.txt", "alice/01-channel-axis/01-channel-axis.ipynb", "01-channel-axis.ipynb",
                 "smith_john_01-channel-axis.ipynb"):
        assert lms.classify(name, KNOWN) is None, name


def test_a_pattern_reads_names_no_layout_knows():
    pattern = lms.compile_pattern(r"(?P<assignment>[^/]+)/(?P<student_id>\w+)-(?P<timestamp>\d{14})-(?P<file_id>.+)")
    found = lms.classify(f"{ASSIGNMENT}/s0042-20260302174559-{NOTEBOOK}", KNOWN, pattern)
    assert (found.layout, found.lms_id, found.assignment, found.file_id) == ("pattern", "s0042", ASSIGNMENT, NOTEBOOK)
    assert found.stamp == dt.datetime(2026, 3, 2, 17, 45, 59, tzinfo=UTC)
    for bad in ("(?P<student_id>", r"(?P<student>\w+)_(?P<file_id>.+)", r"(?P<student_id>\w+)_(?P<file_id>.+)(?P<x>)"):
        with pytest.raises(lms.LmsError, match="--pattern"):
            lms.compile_pattern(bad)


# --- which attempt, which assignment, which student -------------------------------------------


def plan_of(names, dates=None, selected=(ASSIGNMENT,), forced=None, roster=None):
    files = []
    for name in names:
        item = lms.classify(name, KNOWN)
        if item.stamp is None:
            item.stamp, item.stamp_source = (dates or {})[name], "zip entry date"
        files.append(item)
    return lms.plan(files, KNOWN, set(selected), forced, roster)


def test_latest_attempt_across_a_minute_and_a_day_boundary():
    stamps = ["2026-03-02-17-45-59", "2026-03-02-17-46-00", "2026-03-02-17-45-30"]
    day = ["2026-03-02-23-59-59", "2026-03-03-00-00-00"]
    chosen, rows, _ = plan_of([attempt_name(ASSIGNMENT, "alice", s, NOTEBOOK) for s in stamps]
                              + [attempt_name(ASSIGNMENT, "bob", s, NOTEBOOK) for s in day])
    assert [(c[0], lms.show_stamp(c[3]), c[4]) for c in chosen] == [
        ("alice", "2026-03-02 17:46:00", ["attempt of 2026-03-02 17:46:00 (the latest of 3 attempts)"]),
        ("bob", "2026-03-03 00:00:00", ["attempt of 2026-03-03 00:00:00 (the latest of 2 attempts)"])]
    assert sorted(pipeline_status(r) for r in rows) == [
        "not graded: older attempt (2026-03-02 17:45:30), graded 2026-03-02 17:46:00",
        "not graded: older attempt (2026-03-02 17:45:59), graded 2026-03-02 17:46:00",
        "not graded: older attempt (2026-03-02 23:59:59), graded 2026-03-03 00:00:00"]
    assert all(r["score"] is None and r["assignment"] == ASSIGNMENT for r in rows)


def pipeline_status(row):
    from convclinic.grading.pipeline import status_of

    return status_of(row)


def test_canvas_resubmission_is_newer_than_the_first_and_late_is_recorded():
    first = canvas_name("Smith", "John", 123456, NOTEBOOK, 7001)
    second = canvas_name("Smith", "John", 123456, NOTEBOOK, 7002, late=True, resubmission=1)
    data = canvas_name("Smith", "John", 123456, "data.csv", 7003, late=True, resubmission=1)
    # the zip dates say the opposite: the -1 suffix decides
    dates = {first: dt.datetime(2026, 3, 2, 18, 0, tzinfo=UTC), second: dt.datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
             data: dt.datetime(2026, 3, 2, 17, 0, tzinfo=UTC)}
    chosen, rows, _ = plan_of([first, second, data], dates)
    ((student, assignment, files, _, notes),) = chosen
    assert (student, assignment, sorted(f.path for f in files)) == ("123456", ASSIGNMENT, sorted([second, data]))
    assert notes == ["attempt of 2026-03-02 17:00:00 (zip entry date), resubmission -1 "
                     "(the latest of 2 attempts)", "marked late by Canvas"]
    assert [pipeline_status(r) for r in rows] == [
        "not graded: older attempt (2026-03-02 18:00:00 (zip entry date)), graded 2026-03-02 17:00:00 "
        "(zip entry date), resubmission -1"]


def test_assignment_from_the_name_then_the_notebook_then_the_option():
    when = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    moodle = [moodle_name("Ana Lopez", 7, NOTEBOOK), moodle_name("Bo Chen", 8, "my work.ipynb")]
    dates = dict.fromkeys(moodle, when)
    chosen, rows, _ = plan_of(moodle, dates)
    assert [(c[0], c[1]) for c in chosen] == [("7", ASSIGNMENT)]
    assert [(r["student_id"], pipeline_status(r)) for r in rows] == [
        ("8", f"not graded: unknown assignment 'my work' (files: {moodle[1]})")]
    chosen, rows, _ = plan_of(moodle, dates, forced=ASSIGNMENT)
    assert [(c[0], c[1]) for c in chosen] == [("7", ASSIGNMENT), ("8", ASSIGNMENT)] and not rows
    other = [attempt_name("02-padding", "alice", "2026-03-02-09-00-00", "02-padding.ipynb")]
    chosen, rows, notes = plan_of(other)
    assert not chosen and not rows
    assert notes == ["1 file(s) of assignment 02-padding, not selected by --assignment: not graded"]


def test_blackboard_title_receipt_and_roster():
    title, stamp = "Lab 1 Channel Axis", "2026-03-02-17-45-59"
    names = [attempt_name(title, "jsmith", stamp, NOTEBOOK), attempt_name(title, "jsmith", stamp),
             attempt_name(title, "akim", "2026-03-02-10-00-00")]
    chosen, rows, _ = plan_of(names, roster={"jsmith": "s001"})
    ((student, assignment, files, stamp_of, notes),) = chosen
    assert (student, assignment, [f.file_id for f in files]) == ("s001", ASSIGNMENT, [NOTEBOOK])
    assert lms.timestamp_txt(stamp_of) == "2026-03-02 17:45:59.000000 UTC"
    assert [(r["student_id"], r["assignment"]) for r in rows] == [("akim", title)]
    assert pipeline_status(rows[0]).startswith(f"not graded: unknown assignment '{title}'")


def test_roster_file(tmp_path):
    good = tmp_path / "roster.csv"
    good.write_text("student_id,name,email,lms_id\ns001,John Smith,js@example.org,123456\n"
                    "s002,Ana Lopez,al@example.org,jlopez\n\n")
    assert lms.read_roster(str(good)) == {"123456": "s001", "jlopez": "s002"}
    for text, message in (("id,name,email,lms_id\ns1,a,b,c\n", "header must be student_id,name,email,lms_id"),
                          ("student_id,name,email,lms_id\ns1,a,b,1\ns1,c,d,2\n", "duplicate student_id 's1'"),
                          ("student_id,name,email,lms_id\ns1,a,b,1\ns2,c,d,1\n", "duplicate lms_id '1'"),
                          ("", "found an empty file")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(lms.LmsError, match=message):
            lms.read_roster(str(bad))


@pytest.mark.parametrize("option, text, message", [
    ("--roster", "student_id,name,email,lms_id\ns1,a,b,1\ns1,c,d,2\n", "duplicate student_id 's1'"),
    ("--roster", "sid,name\n", "the header must be student_id,name,email,lms_id"),
    ("--pattern", None, "--pattern needs the named groups student_id and file_id")])
def test_bad_roster_or_pattern_is_a_usage_error_in_one_line(tmp_path, option, text, message):
    value = r"(?P<student>\w+)"
    if text is not None:
        value = tmp_path / "roster.csv"
        value.write_text(text)
    done = subprocess.run([*CLI, "grade", tmp_path, "--out", tmp_path / "out", option, str(value)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


# --- collection into nbgrader's submitted/ layout ---------------------------------------------


def test_collect_canvas_zip_writes_nbgrader_layout_and_timestamp(tmp_path):
    full, wrong = notebooks()
    first = canvas_name("Smith", "John", 123456, NOTEBOOK, 7001)
    again = canvas_name("Smith", "John", 123456, NOTEBOOK, 7002, late=True, resubmission=1)
    archive = zip_download(tmp_path / "canvas.zip", [
        (first, full, (2026, 3, 2, 17, 45, 58)), (again, wrong, (2026, 3, 2, 18, 1, 0)),
        ("notes.txt", b"hello", (2026, 3, 2, 9, 0, 0)), ("__MACOSX/._x", b"", (2026, 3, 2, 9, 0, 0))])
    before = archive.read_bytes()
    folder, notes, rows, layout, summary = intake.collect_lms(
        str(archive), str(tmp_path / "collect"), KNOWN, [ASSIGNMENT])
    student = pathlib.Path(folder) / "123456" / ASSIGNMENT
    assert sorted(p.name for p in student.iterdir()) == [NOTEBOOK, "timestamp.txt"]
    assert (student / NOTEBOOK).read_bytes() == wrong
    assert (student / "timestamp.txt").read_text() == "2026-03-02 18:01:00.000000 UTC"
    assert notes[("123456", ASSIGNMENT)][0] == ("attempt of 2026-03-02 18:01:00 (zip entry date), "
                                                "resubmission -1 (the latest of 2 attempts)")
    assert [pipeline_status(r) for r in rows] == [
        "not graded: file name matches no LMS layout: 'notes.txt'",
        "not graded: older attempt (2026-03-02 17:45:58 (zip entry date)), graded 2026-03-02 18:01:00 "
        "(zip entry date), resubmission -1"]
    assert summary == ("LMS download canvas.zip: Canvas (2 file(s)); 1 submission(s) collected, "
                       "2 row(s) not graded at intake") == layout[0]
    assert archive.read_bytes() == before


def test_an_extracted_moodle_folder_is_an_lms_download_and_nbgrader_layout_is_not(tmp_path):
    full, _ = notebooks()
    target = tmp_path / "moodle" / moodle_name("Ana Lopez", 7, NOTEBOOK)
    target.parent.mkdir(parents=True)
    target.write_bytes(full)
    plain = tmp_path / "plain" / "alice" / ASSIGNMENT / NOTEBOOK
    plain.parent.mkdir(parents=True)
    plain.write_bytes(full)
    assert intake.is_lms_folder(str(tmp_path / "moodle"), KNOWN)
    assert not intake.is_lms_folder(str(tmp_path / "plain"), KNOWN)
    assert intake.is_lms_folder(str(tmp_path / "plain"), KNOWN, r"(?P<student_id>\w+)/(?P<file_id>.+)")
    folder, _, rows, _, _ = intake.collect_lms(str(tmp_path / "moodle"), str(tmp_path / "c"), KNOWN, [ASSIGNMENT])
    assert (pathlib.Path(folder) / "7" / ASSIGNMENT / NOTEBOOK).read_bytes() == full and not rows


def test_collect_a_bad_stamp_and_a_pattern_layout(tmp_path):
    """A time that is no time is a row naming it; a --pattern layout is collected with its stamp."""
    full, _ = notebooks()
    when = (2026, 3, 2, 9, 0, 0)
    archive = zip_download(tmp_path / "export.zip", [
        (attempt_name(ASSIGNMENT, "alice", "2026-03-02-17-45-60", NOTEBOOK), full, when),
        (f"hw/{ASSIGNMENT}/s0042--20260302174559--{NOTEBOOK}", full, when)])
    pattern = lms.compile_pattern(r"hw/(?P<assignment>[^/]+)/(?P<student_id>\w+)--(?P<timestamp>\d{14})--(?P<file_id>.+)")
    folder, notes, rows, _, summary = intake.collect_lms(str(archive), str(tmp_path / "c"), KNOWN, [ASSIGNMENT],
                                                         pattern=pattern)
    assert [pipeline_status(r) for r in rows] == [
        f"not graded: {ASSIGNMENT}_alice_attempt_2026-03-02-17-45-60_{NOTEBOOK}: time stamp "
        "'2026-03-02-17-45-60' is not a valid time (second must be in 0..59)"]
    stamp = pathlib.Path(folder) / "s0042" / ASSIGNMENT / "timestamp.txt"
    assert stamp.read_text() == "2026-03-02 17:45:59.000000 UTC"
    assert notes == {("s0042", ASSIGNMENT): ["attempt of 2026-03-02 17:45:59"]}
    assert "--pattern (1 file(s))" in summary
