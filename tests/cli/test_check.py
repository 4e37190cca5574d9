"""A corpus of malformed hypothesis files, each refused by `quantgate check` with one clean line.

Every case is written into tmp_path at test time (FIFOs, /dev links and symlinks included). Each one must
give exactly one output line that names the file and the field, a non-zero exit and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.config._loader import MAX_EXPANSION
from pipeline.config._yaml import MAX_FILE_BYTES, MAX_NESTING
from quantgate.cli import app

runner = CliRunner()

HEAD = "name: corpus\nhypothesis: malformed files are refused\n"
DATA = "data: {source: sample, symbol: AAPL, timeframe: 1d, start: 2005-01-01, end: 2012-12-31}\n"
GOOD = HEAD + DATA


def _text(text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "case.yaml"
        path.write_text(text)
        return path

    return make


def _fifo(folder: Path) -> Path:
    path = folder / "case.yaml"
    os.mkfifo(path)
    return path


def _dev_zero_link(folder: Path) -> Path:
    path = folder / "case.yaml"
    path.symlink_to("/dev/zero")
    return path


def _directory(folder: Path) -> Path:
    path = folder / "case.yaml"
    path.mkdir()
    return path


def _too_big(folder: Path) -> Path:
    path = folder / "case.yaml"
    path.write_text(GOOD + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    return path


def _not_utf8(folder: Path) -> Path:
    path = folder / "case.yaml"
    path.write_bytes(GOOD.encode() + b"tags: {owner: \xff\xfe}\n")
    return path


def _extends_fifo(folder: Path) -> Path:
    os.mkfifo(folder / "base.yaml")
    return _text("extends: base.yaml\n" + GOOD)(folder)


def _extends_link_to_dev_zero(folder: Path) -> Path:
    (folder / "base.yaml").symlink_to("/dev/zero")
    return _text("extends: base.yaml\n" + GOOD)(folder)


def _extends_outside(folder: Path) -> Path:
    inner = folder / "a" / "b"
    inner.mkdir(parents=True)
    (folder / "base.yaml").write_text(GOOD)
    path = inner / "case.yaml"
    path.write_text("extends: ../../base.yaml\nname: child\n")
    return path


def _extends_cycle(folder: Path) -> Path:
    return _text("extends: case.yaml\n" + GOOD)(folder)


def _extends_bad_base(folder: Path) -> Path:
    (folder / "base.yaml").write_text(GOOD + "name: twice\n")
    return _text("extends: base.yaml\nname: child\n")(folder)


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 10):
        prev = f"*a{level - 1}"
        lines.append(f"    a{level}: &a{level} [{', '.join([prev] * 9)}]")
    return GOOD + "model:\n  params:\n    " + "\n".join(lines) + "\n"


def _deep_flow() -> str:
    return GOOD + "features:\n  params: {returns: {x: " + "[" * 5000 + "]" * 5000 + "}}\n"


def _deep_block() -> str:
    body = "".join("  " * (i + 2) + f"k{i}:\n" for i in range(MAX_NESTING + 5))
    return GOOD + "features:\n  params:\n" + body + "  " * (MAX_NESTING + 7) + "x: 1\n"


def _grid(axes: int, values: int) -> str:
    grid = "".join(f"  tags.k{i}: [{', '.join(repr(str(v)) for v in range(values))}]\n" for i in range(axes))
    return GOOD + "grid:\n" + grid


# id -> (how to make the file, text the one line must contain after "<file>: ")
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # reading the file
    "fifo": (_fifo, "not a regular file"),
    "dev-zero-link": (_dev_zero_link, "not a regular file"),
    "directory": (_directory, "is a directory"),
    "too-big": (_too_big, "KiB cap"),
    "not-utf8": (_not_utf8, "not UTF-8"),
    "empty": (_text(""), "file is empty"),
    "not-a-mapping": (_text("- a\n- b\n"), "top level must be a mapping"),
    # YAML constructs
    "duplicate-top-key": (_text(GOOD + "name: again\n"), "name: duplicate key"),
    "duplicate-nested-key": (_text(HEAD + "data:\n  symbol: AAPL\n  symbol: MSFT\n"), "data.symbol: duplicate key"),
    "alias-bomb": (_text(_alias_bomb()), "model.params.a0: anchor &a0 is not allowed"),
    "anchor-alias": (_text(HEAD + "data: &d {symbol: AAPL}\n"), "data: anchor &d is not allowed"),
    "alias": (_text(HEAD + "data: *d\n"), "data: alias *d is not allowed"),
    "merge-key": (_text(GOOD + "costs:\n  <<: {fee_bps: 1}\n"), "costs: merge key << is not allowed"),
    "python-tag": (_text(GOOD + "tags: {x: !!python/object/apply:os.system [ls]}\n"), "tags.x: tag "),
    "complex-key": (_text(GOOD + "? [a, b]\n: 1\n"), "(top level): keys must be plain names"),
    "deep-flow-nesting": (_text(_deep_flow()), f"nested deeper than {MAX_NESTING} levels"),
    "deep-block-nesting": (_text(_deep_block()), f"nested deeper than {MAX_NESTING} levels"),
    "impossible-date": (_text(HEAD + DATA.replace("2012-12-31", "2012-13-45")), "data.end: '2012-13-45' is not"),
    "explicit-int-tag": (_text(GOOD + "target: {holding_period: !!int abc}\n"), "target.holding_period: 'abc' is not"),
    "bad-binary": (_text(GOOD + "tags: {x: !!binary '%%%'}\n"), "tags.x: "),
    "nul-character": (_text(GOOD + 'tags: {x: "a\\0b"}\n'.replace("\\0", "\x00")), "invalid YAML"),
    "empty-int-tag": (_text(GOOD + "target: {holding_period: !!int ''}\n"), "target.holding_period: '' is not"),
    "tagged-key": (_text(GOOD + "!!int strategy: {mode: long_flat}\n"), "(top level): 'strategy' is not a valid int"),
    "invalid-yaml": (_text("name: [unclosed\n"), "invalid YAML at line"),
    # extends:
    "extends-absolute": (_text("extends: /etc/passwd\n" + GOOD), "extends: must be a relative path"),
    "extends-dev-zero": (_text("extends: /dev/zero\n" + GOOD), "extends: must be a relative path"),
    "extends-parent-parent": (_extends_outside, "extends: '../../base.yaml' is outside"),
    "extends-fifo": (_extends_fifo, "extends: "),
    "extends-link-dev-zero": (_extends_link_to_dev_zero, "extends: 'base.yaml' is outside"),
    "extends-home": (_text("extends: ~/base.yaml\n" + GOOD), "extends: must be a relative path"),
    "extends-number": (_text("extends: 5\n" + GOOD), "extends: must be a relative path"),
    "extends-self": (_extends_cycle, "extends: 'case.yaml' extends itself"),
    "extends-missing": (_text("extends: nowhere.yaml\n" + GOOD), "extends: "),
    "extends-bad-base": (_extends_bad_base, "extends: "),
    # silent coercion
    "promote-string": (_text(GOOD + "registry: {promote: 'yes'}\n"), "registry.promote: "),
    "promote-int": (_text(GOOD + "registry: {promote: 1}\n"), "registry.promote: "),
    "fee-bool": (_text(GOOD + "costs: {fee_bps: true}\n"), "costs.fee_bps: "),
    "fee-string": (_text(GOOD + "costs: {fee_bps: '1.5'}\n"), "costs.fee_bps: "),
    "horizon-string": (_text(GOOD + "target: {holding_period: '5'}\n"), "target.holding_period: "),
    "horizon-float": (_text(GOOD + "target: {holding_period: 5.5}\n"), "target.holding_period: "),
    "sharpe-nan": (_text(GOOD + "gate: {min_sharpe: .nan}\n"), "gate.min_sharpe: "),
    "slippage-inf": (_text(GOOD + "costs: {slippage_bps: .inf}\n"), "costs.slippage_bps: "),
    "tag-number": (_text(GOOD + "tags: {owner: 5}\n"), "tags.owner: "),
    "symbols-string": (_text(GOOD + "symbols: AAPL\n"), "symbols: "),
    "horizon-huge": (_text(GOOD + "target: {holding_period: 1000000000}\n"), "target.holding_period: must be <="),
    # dates
    "date-far-future": (_text(HEAD + DATA.replace("2005-01-01", "2999-01-01")), "data.start: must be no later"),
    "end-far-future": (_text(HEAD + DATA.replace("2012-12-31", "2999-01-01")), "data.end: must be no later"),
    "date-before-1970": (_text(HEAD + DATA.replace("2005-01-01", "1900-01-01")), "data.start: must be on or after"),
    "date-as-number": (_text(HEAD + DATA.replace("2005-01-01", "0")), "data.start: must be a date"),
    "date-as-word": (_text(HEAD + DATA.replace("2005-01-01", "yesterday")), "data.start: "),
    # matrix expansion
    "grid-million": (
        _text(_grid(6, 10)),
        f"grid: expands to 1000000 experiments, more than the cap of {MAX_EXPANSION}",
    ),
    "matrix-product": (
        _text(
            GOOD + "symbols: [" + ", ".join(f"S{i}" for i in range(20)) + "]\ntimeframes: [1d, 1h]\n"
            "grid: {target.holding_period: [1, 2, 3, 4, 5, 6, 7]}\n"
        ),
        "symbols x timeframes x grid: expands to 280 experiments",
    ),
    "grid-bad-path": (_text(GOOD + "grid: {'target..holding_period': [1, 2]}\n"), "grid.target..holding_period: "),
    "grid-empty": (_text(GOOD + "grid: {target.holding_period: []}\n"), "grid.target.holding_period: "),
    # model.params and tuning
    "max-depth-word": (_text(GOOD + "model: {params: {max_depth: deep}}\n"), "model.params: max_depth: must be an"),
    "max-depth-float": (_text(GOOD + "model: {params: {max_depth: 3.5}}\n"), "model.params: max_depth: must be an"),
    "param-unknown": (_text(GOOD + "model: {params: {max_dept: 3}}\n"), "model.params: max_dept: not a known"),
    "param-reserved": (_text(GOOD + "model: {params: {objective: 'reg:squarederror'}}\n"), "objective: quantgate"),
    "eta-zero": (_text(GOOD + "model: {params: {eta: 0}}\n"), "model.params: eta: must be > 0"),
    "subsample-two": (_text(GOOD + "model: {params: {subsample: 2}}\n"), "model.params: subsample: must be <= 1"),
    "tree-method-word": (_text(GOOD + "model: {params: {tree_method: fast}}\n"), "model.params: tree_method: must"),
    "nthread-bool": (_text(GOOD + "model: {params: {nthread: true}}\n"), "model.params: nthread: must be an"),
    "search-unknown": (
        _text(GOOD + "tuning: {search_space: {depth: {type: int, low: 2, high: 6}}}\n"),
        "tuning.search_space: depth: not a known",
    ),
    "search-int-as-float": (
        _text(GOOD + "tuning: {search_space: {max_depth: {type: float, low: 2, high: 6}}}\n"),
        "tuning.search_space: max_depth: an integer parameter",
    ),
    "feature-window-zero": (
        _text(GOOD + "features: {groups: [volatility], params: {volatility: {fast: 0}}}\n"),
        "features: feature group volatility failed",
    ),
    "feature-unknown-param": (
        _text(GOOD + "features: {groups: [volatility], params: {volatility: {window: 3}}}\n"),
        "features: features.params.volatility: unknown parameter",
    ),
    "tag-key-chars": (_text(GOOD + "tags: {'bad key!': x}\n"), "tags.bad key!.[key]: contains characters"),
    "tag-value-long": (_text(GOOD + "tags: {k: " + "x" * 6000 + "}\n"), "tags.k: must be at most 5000 characters"),
    "name-chars": (_text(GOOD.replace("name: corpus", "name: ../../etc")), "name: contains characters"),
    "trials-bool": (_text(GOOD + "tuning: {trials: true}\n"), "tuning.trials: "),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_check_when_file_is_malformed_prints_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    result = runner.invoke(app, ["check", str(path)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), lines
    assert expected in lines[0], lines


def test_corpus_covers_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_check_when_whole_corpus_given_to_the_real_command_names_every_file_once(tmp_path: Path) -> None:
    paths = []
    for case, (make, _) in CASES.items():
        folder = tmp_path / case
        folder.mkdir()
        paths.append(str(make(folder)))
    exe = Path(sys.executable).with_name("quantgate")
    # The timeout only guards the test run against a hang (a FIFO that is opened); it is not a speed target.
    result = subprocess.run([str(exe), "check", *paths], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(paths), lines
    for path in paths:
        assert sum(1 for line in lines if line.startswith(path + ": ")) == 1, (path, lines)


def test_check_when_two_files_share_a_name_warns_and_passes(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("symbol: AAPL", "symbol: MSFT"))
    result = runner.invoke(app, ["check", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert "a.yaml" in warnings[0] and "b.yaml" in warnings[0] and "name: 'corpus'" in warnings[0]


def test_check_when_model_names_collide_warns(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD + "registry: {model_name: shared}\n")
    (tmp_path / "b.yaml").write_text(GOOD.replace("name: corpus", "name: other") + "registry: {model_name: shared}\n")
    result = runner.invoke(app, ["check", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert result.exit_code == 0, result.output
    assert "registry.model_name: 'shared' is used by 2 files" in result.output


def test_check_when_extends_stays_inside_the_folder_tree_accepts_it(tmp_path: Path) -> None:
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "base.yaml").write_text(GOOD)
    child = tmp_path / "child.yaml"
    child.write_text("extends: bases/base.yaml\nname: child\nregistry: {promote: true}\n")
    result = runner.invoke(app, ["check", str(child)])
    assert result.exit_code == 0, result.output
