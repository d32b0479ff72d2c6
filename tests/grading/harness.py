"""Build fixture submissions and grade them with the REAL nbgrader (tests/grading).

Fixture layout, one folder per assignment, named after the case it covers
(like nbgrader's own tests)::

    tests/fixtures/exercises/<assignment>/
        submitted-correct-different/<answer-grade-id>.cell   a correct answer written differently
        submitted-stderr-noise/<answer-grade-id>.cell        correct, but emits TF log lines/warnings
        submitted-correct-unusual/<answer-grade-id>/<case>.cell  correct, in an unusual way
        submitted-wrong/<answer-grade-id>/<case>.cell        a plausible wrong answer

Each ``.cell`` file is the complete new source of the answer cell ``<answer-grade-id>``
(a solution cell of the master). The submissions built from them are:

- ``submitted-master``: the master notebook, as is;
- ``submitted-unchanged``: the release, as is;
- ``submitted-correct-different`` / ``submitted-stderr-noise``: the release with
  those answer cells replaced (and, for stderr-noise, every other answer taken
  from the master);
- ``submitted-correct-unusual-<n>``: the release with the n-th unusual correct answer of
  every part (and the master's answer where a part has fewer);
- ``submitted-wrong-<n>-<even|odd>``: the master with the n-th wrong case of every
  second part patched in. Each such student must lose exactly the parts patched
  and keep every other part: so each wrong answer is shown to cost its own part
  and nothing else, while batching many cases into few autograde runs.

Every student is graded by ``convclinic grade`` (the course's grader, warm kernels). Plain
``nbgrader autograde`` (a cold kernel and a TensorFlow import per notebook, about 9 s each on
two cores) grades ``plain_students``: every student but the wrong cases after the first of each
part, so each test cell is still shown, inside the kernel, to pass every correct answer and to
fail a wrong one, and the two graders are compared on those students.

An answer cell ``<id>-answer`` is graded by the test cell ``<id>``.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import os
import pathlib
import re
import shutil
import time

import nbformat

from convclinic.release import assignments, course_config, nbgrader
from tests.conftest import ROOT

SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
FIXTURES = ROOT / "tests" / "fixtures" / "exercises"
ANSWER_SUFFIX = "-answer"


def read(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_ids(notebook):
    """Grade ids of the autograded answer (solution, non-grade) code cells, in order."""
    return [
        nbgrader_meta(cell)["grade_id"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        and nbgrader_meta(cell).get("solution")
        and not nbgrader_meta(cell).get("grade")
    ]


def test_ids(notebook):
    """Grade ids of the autograded test cells (grade, locked code cells) and their points."""
    return {
        nbgrader_meta(cell)["grade_id"]: float(nbgrader_meta(cell)["points"])
        for cell in notebook.cells
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade")
    }


def part_of(answer_id):
    """The test cell grading an answer cell: ``ex01-foo-answer`` -> ``ex01-foo``."""
    assert answer_id.endswith(ANSWER_SUFFIX), answer_id
    return answer_id[: -len(ANSWER_SUFFIX)]


def patched(notebook, sources):
    """A copy of ``notebook`` whose answer cells ``sources`` (id -> source) are replaced."""
    notebook = copy.deepcopy(notebook)
    found = set()
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
            found.add(grade_id)
    missing = set(sources) - found
    assert not missing, f"fixture names unknown answer cells: {sorted(missing)}"
    return notebook


def _sources(folder):
    return {path.stem: path.read_text() for path in sorted(pathlib.Path(folder).glob("*.cell"))}


def wrong_cases(assignment):
    """{answer_id: {case_name: source}} from ``submitted-wrong/``."""
    base = FIXTURES / assignment / "submitted-wrong"
    if not base.is_dir():
        return {}
    return {folder.name: _sources(folder) for folder in sorted(base.iterdir()) if folder.is_dir()}


def unusual_variants(assignment):
    """Whole notebooks of correct-but-unusual answers: the n-th variant takes the n-th
    ``submitted-correct-unusual`` case of every part (cases that switch a Keras global
    setting sort last, as a learner's notebook would keep them switched). A case whose text says
    ``(Paired with ANSWER-ID/CASE ...`` is graded beside that case for ANSWER-ID, because the
    learner's later cells were written for its setting (a notebook that switches Keras to
    channels_first and then builds a channels_last model is wrong, not unusual)."""
    base = FIXTURES / assignment / "submitted-correct-unusual"
    if not base.is_dir():
        return []
    named = {folder.name: _sources(folder) for folder in sorted(base.iterdir())}
    per_answer = {
        answer_id: sorted(sources, key=lambda n: ("keras.config.set_" in sources[n], n))
        for answer_id, sources in named.items()
    }
    most = max((len(cases) for cases in per_answer.values()), default=0)
    variants = []
    for variant in range(most):
        chosen = {answer_id: cases[variant] for answer_id, cases in per_answer.items() if variant < len(cases)}
        for answer_id, case in list(chosen.items()):
            for partner_answer, partner_case in _PAIRED.findall(named[answer_id][case]):
                if partner_case not in named.get(partner_answer, {}):
                    raise ValueError(f"{assignment}: {answer_id}/{case} is paired with "
                                     f"{partner_answer}/{partner_case}, which is not a fixture")
                chosen[partner_answer] = partner_case
        variants.append({answer_id: named[answer_id][case] for answer_id, case in chosen.items()})
    return variants


_PAIRED = re.compile(r"\(Paired with ([\w-]+)/([\w.-]+)")


def answers_of(notebook):
    """Sources of every solution cell (code answers and the manual markdown answer)."""
    return {
        nbgrader_meta(cell)["grade_id"]: cell.source
        for cell in notebook.cells
        if nbgrader_meta(cell).get("solution")
    }


def students(assignment):
    """{student_id: (notebook, {test_id: expected_lost (bool)}, {answer_id: case})} for one assignment."""
    master = read(SOLUTIONS / assignment / f"{assignment}.ipynb")
    release = read(EXERCISES / assignment / f"{assignment}.ipynb")
    parts = test_ids(master)
    keep_all = {test_id: False for test_id in parts}
    result = {
        "submitted-master": (master, keep_all, {}),
        "submitted-unchanged": (release, {test_id: True for test_id in parts}, {}),
    }
    different = _sources(FIXTURES / assignment / "submitted-correct-different")
    if different:
        sources = {**answers_of(master), **different}
        result["submitted-correct-different"] = (patched(release, sources), keep_all, {})
    noise = _sources(FIXTURES / assignment / "submitted-stderr-noise")
    if noise:
        sources = {**answers_of(master), **noise}
        result["submitted-stderr-noise"] = (patched(release, sources), keep_all, {})
    for variant, sources in enumerate(unusual_variants(assignment), start=1):
        result[f"submitted-correct-unusual-{variant}"] = (
            patched(release, {**answers_of(master), **sources}), keep_all, {})
    cases = wrong_cases(assignment)
    ordered = [answer_id for answer_id in answer_ids(master) if answer_id in cases]
    most = max((len(cases[answer_id]) for answer_id in ordered), default=0)
    for variant in range(most):
        for parity, label in ((0, "even"), (1, "odd")):
            chosen = {}
            for index, answer_id in enumerate(ordered):
                names = sorted(cases[answer_id])
                if index % 2 == parity and variant < len(names):
                    chosen[answer_id] = names[variant]
            if not chosen:
                continue
            sources = {answer_id: cases[answer_id][name] for answer_id, name in chosen.items()}
            lost = {test_id: False for test_id in parts}
            lost.update({part_of(answer_id): True for answer_id in chosen})
            result[f"submitted-wrong-{variant + 1}-{label}"] = (patched(master, sources), lost, chosen)
    return result


def in_plain_run(student_id):
    """Whether plain ``nbgrader autograde`` grades this fixture student (see the module's text)."""
    found = re.match(r"submitted-wrong-(\d+)-", student_id)
    return not found or int(found.group(1)) == 1


def plain_students(assignment):
    """The students of ``students(assignment)`` that plain ``nbgrader autograde`` grades."""
    return {student_id: case for student_id, case in students(assignment).items() if in_plain_run(student_id)}


def _grade_batch(course, names, timings):
    """One worker: its own course folder and gradebook; autograde + validate --invert."""
    course_config(course)
    validations = {}
    for assignment in names:
        nbgrader(["generate_assignment", assignment, "--force"], course)
        for student_id, (notebook, _, _) in plain_students(assignment).items():
            folder = course / "submitted" / student_id / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, str(folder / f"{assignment}.ipynb"))
        count = len(list((course / "submitted").glob(f"*/{assignment}")))
        started = time.perf_counter()
        completed = nbgrader(["autograde", assignment, "--force", "--create"], course, timeout=1800)
        seconds = time.perf_counter() - started
        timings[assignment] = {"notebooks": count, "seconds": round(seconds, 1),
                               "per_notebook": round(seconds / count, 2)}
        release_copy = course / "release" / assignment / f"{assignment}.ipynb"
        checked = nbgrader(["validate", "--invert", str(release_copy)], course, check=False,
                           timeout=600)
        validations[assignment] = checked.stdout + checked.stderr
        noisy = course / "submitted" / "submitted-stderr-noise" / assignment / f"{assignment}.ipynb"
        if noisy.exists():
            # Plain validate has no IgnorePattern backstop: the test cells' own silencing must hold.
            checked = nbgrader(["validate", str(noisy)], course, check=False, timeout=600)
            validations[assignment + "/stderr-noise"] = checked.stdout + checked.stderr
        if "error" in completed.stderr.lower() and "Traceback" in completed.stderr:
            timings[assignment]["log_tail"] = completed.stderr[-2000:]
    return validations


def read_scores(course, assignment):
    """{student_id: {test_id: (auto_score, max_score)}} from the worker's gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            notebook = gradebook.find_submission_notebook(
                assignment, assignment, submission.student.id
            )
            scores[submission.student.id] = {
                grade.name: (grade.auto_score, grade.max_score)
                for grade in notebook.grades
                if grade.cell.cell_type == "code"
            }
    return scores


def grade_everything(workdir, names=None, workers=None):
    """Grade the ``plain_students`` of every assignment with plain nbgrader; returns a results dict."""
    names = list(names or assignments())
    workers = workers or max(1, min(2, os.cpu_count() or 1, len(names)))
    # Split assignments over workers, largest-first round robin.
    batches = [names[index::workers] for index in range(workers)]
    timings = {}
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            pool.submit(_grade_batch, pathlib.Path(workdir) / f"course-{index}", batch, timings):
            index
            for index, batch in enumerate(batches)
        }
        validations = {}
        for future in concurrent.futures.as_completed(futures):
            validations.update(future.result())
    total = time.perf_counter() - started
    scores = {}
    for index, batch in enumerate(batches):
        for assignment in batch:
            scores[assignment] = read_scores(pathlib.Path(workdir) / f"course-{index}", assignment)
            scores[assignment + "/course"] = pathlib.Path(workdir) / f"course-{index}"
    results = {"scores": scores, "validations": validations, "timings": timings,
               "total_seconds": round(total, 1), "workers": workers}
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "grading-timings.json").write_text(
        json.dumps({"timings": timings, "total_seconds": results["total_seconds"],
                    "workers": workers}, indent=2)
    )
    return results


def clean(path):
    shutil.rmtree(path, ignore_errors=True)
