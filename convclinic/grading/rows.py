"""``grades.csv`` and ``report.md``: the per-batch record written from journal entries.

Both files are rewritten atomically from the journal (:class:`convclinic.grading.pipeline.Journal`)
after every finished submission; they list every submission ever graded into the same OUT
(a second batch with other students keeps the first batch's rows). ``submitted_at`` and
``late_penalty`` come from the course's deadlines (:mod:`convclinic.grading.deadlines`).
"""

from __future__ import annotations

import csv
import io
import os

from convclinic.grading.files import atomic_write


def _fmt(number):
    if number is None:
        return ""
    return f"{float(number):g}"


def status_of(entry):
    """The one-line status of a grades.csv row, in words."""
    notes = list(entry.get("notes", [])) + list(entry.get("problems", []))
    if entry.get("state") == "not graded":
        return "not graded: " + "; ".join(notes or ["no gradable notebook"])
    if entry.get("state") == "grader error":
        return "not graded: " + "; ".join(notes + ["the grader failed on this submission (see report.md)"])
    manual = [p for p in entry.get("parts", []) if p.get("manual") and p.get("needs_manual_grade")]
    if manual:
        points = sum(p["max_score"] for p in manual)
        notes.append(f"{_fmt(points)} point(s) await manual grading ("
                     + ", ".join(p["grade_id"] for p in manual) + ")")
    if entry.get("autograde_ok") is False:
        notes.insert(0, "nbgrader reported an error (see report.md)")
    if entry.get("due") and not entry.get("timestamped"):
        notes.append("no timestamp.txt: submission time unknown, no late penalty")
    elif entry.get("late_penalty"):
        notes.append(f"submitted late (due {entry['due']}): {_fmt(entry['late_penalty'])} point(s) late penalty")
    return "graded" + ("; " + "; ".join(notes) if notes else "")



def write_outputs(out, entries, layout_notes, started=None):
    """grades.csv and report.md from journal entries (atomically)."""
    rows = sorted(entries, key=lambda e: (e["student_id"], e["assignment"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "assignment", "score", "max_score", "submitted_at", "late_penalty", "status"])
    for entry in rows:
        writer.writerow([entry["student_id"], entry["assignment"], _fmt(entry.get("score")),
                         _fmt(entry.get("max_score")), entry.get("submitted_at", ""),
                         _fmt(entry.get("late_penalty")), status_of(entry)])
    atomic_write(os.path.join(out, "grades.csv"), buffer.getvalue())
    atomic_write(os.path.join(out, "report.md"), report(rows, layout_notes))


def _heading(row):
    """``### student / assignment: score / max``; a file the intake could not match to a
    student or an assignment is headed by its status instead of empty names."""
    if not row.get("student_id") and not row.get("assignment"):
        return f"### (file not matched): {status_of(row)}"
    return (f"### {row.get('student_id') or '?'} / {row.get('assignment') or '?'}: "
            f"{_fmt(row.get('score'))} / {_fmt(row.get('max_score'))}")


def report(rows, layout_notes):
    """A human-readable account of every problem found, then every student's parts."""
    lines = ["# Grading report", ""]
    troubled = [r for r in rows if r.get("notes") or r.get("problems") or r.get("state") != "graded"
                or r.get("autograde_ok") is False]
    lines.append(f"{len(rows)} submission(s); {sum(1 for r in rows if r.get('state') == 'graded')} graded, "
                 f"{sum(1 for r in rows if r.get('state') != 'graded')} not graded; "
                 f"{len(troubled)} with something to look at.")
    lines.append("")
    if layout_notes:
        lines += ["## Submissions folder", ""] + [f"- {note}" for note in layout_notes] + [""]
    lines += ["## Problems, by student", ""]
    if not troubled:
        lines += ["None.", ""]
    for row in troubled:
        lines.append(_heading(row))
        lines.append("")
        for note in list(row.get("notes", [])) + list(row.get("problems", [])):
            lines.append(f"- {note}")
        if row.get("nbgrader_error"):
            lines += ["- nbgrader's log:", "", "```",
                      (row.get("nbgrader_log") or row["nbgrader_error"]).strip()[-2500:], "```"]
        lines.append("")
    lines += ["## Scores by part", ""]
    for row in rows:
        parts = row.get("parts") or []
        if not parts:
            continue
        detail = ", ".join(
            f"{p['grade_id']} {_fmt(p['score']) if not p.get('manual') else 'manual'}/{_fmt(p['max_score'])}"
            for p in parts)
        lines.append(f"- {row['student_id']} / {row['assignment']}: {detail}")
    return "\n".join(lines) + "\n"
