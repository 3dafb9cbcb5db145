"""Quiet by default: no progress frames in a log, a prune table that explains only what it shows,
and a bare ``patternlite`` that fails with its usage."""

from __future__ import annotations

import io

import pytest

from patternlite.cli import main as patternlite_main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    from patternlite.converter.progress import progress_bar

    monkeypatch.delenv("PATTERNLITE_PROGRESS", raising=False)
    log = io.StringIO()
    with progress_bar(total=3, file=log) as bar:
        bar.update(3)
    assert log.getvalue() == ""  # a redirected stream gets no frames at all
    term = _Terminal()
    with progress_bar(total=3, file=term, mininterval=0) as bar:
        bar.update(3)
    assert "3/3" in term.getvalue()
    monkeypatch.setenv("PATTERNLITE_PROGRESS", "1")  # asked for in a log: drawn, at a slow rate
    bar = progress_bar(total=3, file=log)
    assert not bar.disable and bar.mininterval >= 30
    bar.close()


def test_the_prune_table_explains_only_the_kinds_it_shows() -> None:
    from patternlite.converter.report import LayerReport, format_table
    from patternlite.metadata import KINDS

    row = LayerReport("conv1", (3, 3, 16, 32), 0.5, 256, 512, 4608, 1024, 0.3, 0.1, 1.0, KINDS[0])
    text = format_table([row])
    assert "kernels kept: 3x3 kernels (3x3)" in text
    assert "1x1" not in text and "depthwise" not in text
    both = format_table([row, LayerReport("pw", (1, 1, 32, 32), 0.5, 512, 1024, 1024, 512, None, None, 0.1, KINDS[1])])
    assert "weights (1x1" in both and "depthwise" not in both


def test_bare_patternlite_prints_its_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert patternlite_main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: patternlite")
    assert patternlite_main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: patternlite")
