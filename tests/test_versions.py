"""convclinic.versions and convclinic.claims (lesson 05): Keras 2 and 3 side by side."""

from __future__ import annotations

import warnings

import pytest

from convclinic import claims, versions

pytestmark = pytest.mark.slow  # every test here imports TensorFlow


def test_side_by_side_runs_each_keras_module():
    outcomes = versions.side_by_side(lambda keras: keras.__version__.split(".")[0])
    assert list(outcomes) == ["Keras 2", "Keras 3"]
    assert outcomes["Keras 2"].value == "2"
    assert outcomes["Keras 3"].value == "3"


def test_side_by_side_records_each_error_cleaned():
    def bad_padding(keras):
        return keras.layers.Conv2D(8, 3, padding="invalid")

    for outcome in versions.side_by_side(bad_padding).values():
        assert (outcome.ok, outcome.error_type) == (False, "ValueError")
        assert "Received: invalid" in outcome.message and "\x1b[" not in outcome.message


def test_side_by_side_leaves_warning_filters_as_they_were():
    before = list(warnings.filters)
    versions.side_by_side(lambda keras: keras.layers.Conv2D(8, 3, input_shape=(28, 28, 1)))
    assert warnings.filters == before


def test_keras_versions_name_both_packages():
    found = versions.keras_versions()
    assert found["Keras 2"].startswith("tf_keras 2.") and found["Keras 3"].startswith("keras 3.")


def test_count_input_shape_warnings_is_independent_of_history():
    assert len(versions.count_input_shape_warnings(3)) == 1
    assert len(versions.count_input_shape_warnings(3)) == 1


def test_environment_summary_names_every_version_a_bug_report_needs():
    summary = versions.environment_summary()
    for key in ("python", "platform", "numpy", "tensorflow", "keras", "tf_keras", "gpus"):
        assert summary[key]
    assert summary["keras"].startswith("3.") and summary["tf_keras"].startswith("2.")


def test_claims_table_has_one_row_per_claim_with_both_kerases():
    table = claims.claims_table(claims.CLAIMS[:2])
    assert [claim.key for claim, _ in table.rows] == ["example1_build", "example1_call"]
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "<th>the claim</th>" in html
    assert "keras 3." in str(table) and "tf_keras 2." in str(table)
    assert repr(table) == str(table)
    assert table.outcome("example1_call", "Keras 3").value == (1, 98, 98, 32)
    with pytest.raises(KeyError):
        table.outcome("no-such-claim")


def test_claim_keys_are_unique():
    keys = [claim.key for claim in claims.CLAIMS]
    assert len(keys) == len(set(keys)) == 8
