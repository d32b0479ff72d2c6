"""nbgrader configuration of the Conv2D Clinic course.

Paths are absolute, computed from this file's location, so nbgrader works the
same from any working directory:

    .venv/bin/nbgrader generate_assignment 01-channel-axis --config grader/nbgrader_config.py

- masters (nbgrader "source")   solutions/<assignment>/<assignment>.ipynb
- student release               exercises/<assignment>/<assignment>.ipynb
- working area (gitignored)     grader/gradebook.db, grader/submitted, autograded, feedback

The grading CLI (``convclinic grade``) layers its own settings on top.
nbgrader gives 0 points to a test cell with ANY stderr output (``nbgrader.utils.determine_grade``):
that is why the environment below keeps TensorFlow's C++ log lines off stderr.
"""

import os
from pathlib import Path

COURSE = Path(__file__).resolve().parent
REPO = COURSE.parent

# Kernels inherit this process's environment: keep TensorFlow's C++ log lines off
# stderr, because nbgrader gives zero points to a test cell with ANY stderr output.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ.setdefault("PYTHONHASHSEED", "0")

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "conv2d-clinic"
c.CourseDirectory.root = str(COURSE)
c.CourseDirectory.source_directory = str(REPO / "solutions")
c.CourseDirectory.release_directory = str(REPO / "exercises")
c.CourseDirectory.db_url = f"sqlite:///{COURSE / 'gradebook.db'}"
c.CourseDirectory.assignment_id = ""

# Only the notebook is released: no helper files are copied next to it.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Student stubs.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Importing TensorFlow takes ~4 s and the first Keras fit traces a graph: 30 s per
# cell is nbgrader's default; allow more on a busy 2-core machine.
c.Execute.timeout = 120
c.ExecutePreprocessor.timeout = 120
c.Execute.interrupt_on_timeout = True

# Deleted graded/test cells are put back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Backstop: drop stderr outputs that are TensorFlow/absl log lines or Python warnings.
# (The test cells already silence stderr; see convclinic/judging/kernel.py, quiet().)
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)^(?:"
    r"[IWEF]\d{4} \d\d:\d\d:\d\d"                      # absl/glog: W0000 00:00:...
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "    # TF: 2026-05-09 10:00:00.1: I tensorflow/...
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|.*(?:UserWarning|DeprecationWarning|FutureWarning|RuntimeWarning): "
    r")"
)
