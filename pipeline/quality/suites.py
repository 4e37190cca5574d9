"""Where expectation suites live and how they are read and written (JSON, Great Expectations 1.x format).

Suites are files ``<name>.json`` in the repository's ``expectations/`` folder, or in the folder named by
``QUANTGATE_EXPECTATIONS_DIR``. Great Expectations is imported only inside the functions that need it.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataQualityError, first_line
from pipeline.timeframes import AssetClass

if TYPE_CHECKING:
    import great_expectations as gx

EXPECTATIONS_DIR_ENV = "QUANTGATE_EXPECTATIONS_DIR"

DEFAULT_SUITES: dict[str, str] = {"equity": "ohlcv_equity", "crypto": "ohlcv_crypto"}


def expectations_dir() -> Path:
    """The folder holding the suites: ``$QUANTGATE_EXPECTATIONS_DIR``, else the shipped ones.

    The shipped suites are package data of :mod:`pipeline.quality` (``expectations/``, found with
    :mod:`importlib.resources`, so an installed wheel has them). In a source checkout that folder is a link to
    the repository's ``expectations/``, which is what this returns there.
    """
    override = os.environ.get(EXPECTATIONS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("pipeline.quality") / "expectations")).resolve()


def default_suite_name(asset_class: AssetClass) -> str:
    """The suite bars of ``asset_class`` are validated with unless told otherwise.

    Raises
    ------
    ValueError
        If ``asset_class`` is neither ``equity`` nor ``crypto``.
    """
    try:
        return DEFAULT_SUITES[asset_class]
    except KeyError:
        raise ValueError(f"unknown asset class {asset_class!r}; expected one of {', '.join(DEFAULT_SUITES)}") from None


def suite_path(suite: str | Path) -> Path:
    """The JSON file of ``suite``: a name in :func:`expectations_dir`, or a path to a ``.json`` file."""
    text = str(suite)
    if text.endswith(".json") or os.sep in text or "/" in text:
        return Path(suite).expanduser()
    return expectations_dir() / f"{text}.json"


def read_suite_dict(suite: str | Path) -> dict[str, Any]:
    """The suite's JSON document as a dictionary (no Great Expectations import).

    Raises
    ------
    DataQualityError
        If the file is missing, unreadable, not JSON, or has no ``expectations`` list.
    """
    path = suite_path(suite)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataQualityError(
            f"expectation suite {path} not found (set {EXPECTATIONS_DIR_ENV} to use another folder)"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataQualityError(f"expectation suite {path} is unreadable: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise DataQualityError(f"expectation suite {path}: expected an object with an 'expectations' list")
    document.setdefault("name", path.stem)
    return document


def load_suite(suite: str | Path) -> gx.ExpectationSuite:
    """Load a suite as a Great Expectations ``ExpectationSuite`` (``gx.ExpectationSuite(**json)``).

    Raises
    ------
    DataQualityError
        If the file is missing or unreadable, or Great Expectations rejects its content.
    """
    document = read_suite_dict(suite)
    return suite_from_dict(document, where=str(suite_path(suite)))


def suite_from_dict(document: dict[str, Any], *, where: str = "suite") -> gx.ExpectationSuite:
    """Build an ``ExpectationSuite`` from its JSON dictionary, naming ``where`` if it is invalid."""
    import great_expectations as gx

    _check_expectations(document, where)
    try:
        suite = gx.ExpectationSuite(**document)
    except Exception as exc:
        raise DataQualityError(f"expectation suite {where} is invalid: {first_line(exc, lines=3)}") from exc
    if len(suite.expectations) != len(document["expectations"]):  # GE logs and drops what it rejects
        raise DataQualityError(
            f"expectation suite {where} is invalid: Great Expectations kept {len(suite.expectations)} "
            f"of {len(document['expectations'])} expectations"
        )
    return suite


def _check_expectations(document: dict[str, Any], where: str) -> None:
    """Build each expectation on its own, so a bad one raises instead of being dropped by the suite.

    ``gx.ExpectationSuite(...)`` logs an invalid expectation and leaves it out; for a gate, a check that
    silently disappears is worse than a crash.
    """
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    for position, expectation in enumerate(document["expectations"]):
        if not isinstance(expectation, dict):
            raise DataQualityError(f"expectation suite {where}: expectation {position} is not an object")
        label = (
            f"expectation {position} ({expectation.get('type')}, check {(expectation.get('meta') or {}).get('check')})"
        )
        try:
            ExpectationConfiguration(
                type=expectation["type"],
                kwargs=expectation.get("kwargs") or {},
                meta=expectation.get("meta"),
                notes=expectation.get("notes"),
                description=expectation.get("description"),
            ).to_domain_obj()
        except Exception as exc:
            raise DataQualityError(
                f"expectation suite {where} is invalid: {label}: {first_line(exc, lines=3)}"
            ) from exc


def suite_to_dict(suite: gx.ExpectationSuite) -> dict[str, Any]:
    """The suite's JSON dictionary without the ``id`` fields GE assigns (stable across runs)."""
    document = suite.to_json_dict()
    document.pop("id", None)
    for expectation in document.get("expectations", []):
        expectation.pop("id", None)
    return document


def save_suite(suite: gx.ExpectationSuite, path: str | Path | None = None) -> Path:
    """Write ``suite`` as indented JSON (ids dropped) to ``path`` or ``expectations_dir()/<name>.json``."""
    target = Path(path) if path is not None else expectations_dir() / f"{suite.name}.json"
    target.write_text(json.dumps(suite_to_dict(suite), indent=2) + "\n", encoding="utf-8")
    return target
