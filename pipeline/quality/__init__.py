"""Data-quality gate: Great Expectations suites (``expectations/*.json``) plus expected-grid coverage.

``validate_bars(bars, asset_class=..., timeframe=...)`` returns a :class:`QualityReport`; a failed suite
is a report with ``success = False``, and ``raise_for_failure(report, what)`` turns it into a
:class:`pipeline.errors.DataQualityError` where a stage must stop. Importing this package does not
import Great Expectations (about 4 s); validating does.
"""

from pipeline.quality.report import ExpectationOutcome, QualityReport, raise_for_failure
from pipeline.quality.suites import (
    DEFAULT_SUITES,
    EXPECTATIONS_DIR_ENV,
    default_suite_name,
    expectations_dir,
    load_suite,
    save_suite,
    suite_to_dict,
)
from pipeline.quality.validate import MAX_EXAMPLES, MAX_LISTED, validate_bars

__all__ = [
    "DEFAULT_SUITES",
    "EXPECTATIONS_DIR_ENV",
    "MAX_EXAMPLES",
    "MAX_LISTED",
    "ExpectationOutcome",
    "QualityReport",
    "default_suite_name",
    "expectations_dir",
    "load_suite",
    "raise_for_failure",
    "save_suite",
    "suite_to_dict",
    "validate_bars",
]
