"""The grading CLI (``convclinic grade`` and friends): grader/README.md, docs/architecture.md."""

import sys

# jsonschema, which nbformat imports (every grading module reads notebooks), imports the
# optional rfc3987_syntax when it is installed, only to check the JSON-schema formats "iri" and
# "iri-reference"; importing it builds a parser: about 1.5 s of CPU in every grading process,
# before anything is graded. Nothing the grader validates uses a format checker (nbformat and
# nbgrader validate without one), so grading processes go without it.
# tests/grading/test_grading_process_costs.py checks both halves.
sys.modules.setdefault("rfc3987_syntax", None)
