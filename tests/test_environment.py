"""The pinned environment: requirements.txt is the single source of versions."""

import re
import subprocess
import sys
from importlib import metadata

import pytest

from tests.conftest import ROOT

REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;]+)\s*(?:;\s*(.+))?$")


def requirement_lines():
    lines = []
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def pins():
    result = {}
    for line in requirement_lines():
        match = REQUIREMENT.match(line)
        assert match, f"requirements.txt line is not an exact == pin: {line!r}"
        name, version, marker = match.groups()
        result.setdefault(name.lower(), []).append((version, marker))
    return result


def test_every_requirement_is_pinned_exactly():
    assert len(pins()) >= 10


def test_named_packages_are_pinned():
    required = {"tensorflow", "keras", "tf-keras", "jupyterlab", "nbgrader",
                "ipywidgets", "matplotlib", "nbval", "pytest"}
    assert required <= set(pins()), required - set(pins())


# Distributions that install the ``tensorflow`` import package. Two of them side by side write
# into the same folder (the last one installed wins file by file) and ``tf.sysconfig`` then
# describes a build that is not the one running.
TENSORFLOW_DISTRIBUTIONS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
                            "tensorflow-macos", "tf-nightly", "tf-nightly-cpu"}


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_one_tensorflow_wheel_is_pinned_on_every_platform():
    """tf-keras requires ``tensorflow`` itself, so that is the one wheel, without markers."""
    pinned = {_canonical(name) for name in pins()} & TENSORFLOW_DISTRIBUTIONS
    assert pinned == {"tensorflow"}, pinned
    (version, marker), = pins()["tensorflow"]
    assert marker is None, f"tensorflow must be pinned for every platform, not only {marker!r}"


def test_exactly_one_tensorflow_distribution_is_installed():
    """``pip list`` shows one TensorFlow distribution, not two installed over each other."""
    installed = sorted({_canonical(dist.metadata["Name"]) for dist in metadata.distributions()}
                       & TENSORFLOW_DISTRIBUTIONS)
    assert installed == ["tensorflow"], (
        f"TensorFlow distributions installed side by side: {installed}; recreate .venv "
        "(rm -rf .venv && make test)")


def test_jupyterlab_is_new_enough_for_the_nbgrader_extension():
    (version, _), = pins()["jupyterlab"]
    major, minor = (int(v) for v in version.split(".")[:2])
    assert major == 4 and minor >= 4


def test_installed_versions_match_the_pins():
    mismatched = []
    for name, entries in pins().items():
        for version, marker in entries:
            if marker:
                from packaging.markers import Marker

                if not Marker(marker).evaluate():
                    continue
            installed = metadata.version(name)
            if installed != version:
                mismatched.append(f"{name}: pinned {version}, installed {installed}")
    assert not mismatched, "run `make test` (it reinstalls when requirements.txt changes): " + "; ".join(mismatched)


def test_environment_yml_installs_the_same_pins():
    """environment.yml (conda/Binder) must not drift from requirements.txt."""
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M), "environment.yml must pin python=3.11"
    assert re.search(r"^\s*-\s*-r requirements\.txt\s*$", text, re.M), "pip section must use -r requirements.txt"
    own_pins = re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)==([^\s]+)", text, re.M)
    for name, version in own_pins:
        assert name.lower() in pins(), f"environment.yml pins {name}, requirements.txt does not"
        assert version in [v for v, _ in pins()[name.lower()]], f"{name}: {version} differs"
    assert "python=3.11" in text and sys.version_info[:2] == (3, 11)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test\s*$", ci, re.M)


@pytest.mark.parametrize("target", ["lab", "test", "test-fast", "bench", "help", "release", "grade", "handouts",
                                    "playground"])
def test_makefile_has_target(target):
    done = subprocess.run(["make", "-n", target, "SUBMISSIONS=x"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
