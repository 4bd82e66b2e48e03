"""Progress reporting: remaining time from the steps after the first, plain lines when stderr is not a terminal.

Every test drives a fake clock, so nothing here depends on how fast the machine is."""

import io
import logging

import pytest

from zslkit.utils import progress
from zslkit.utils.progress import LineProgress, RateEstimate, format_duration, progress_bar


class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_remaining_time_leaves_out_the_slow_first_step():
    """A search whose first fit pays 10 s of start-up and whose other 69 fits take 0.1 s each: extrapolating
    the first fit announced 690 s; the estimate from the later fits is the 6.5 s actually left."""
    clock = FakeClock()
    est = RateEstimate(total=70, clock=clock)
    clock.t = 10.0
    est.update()
    assert est.rate() is None and est.remaining() is None  # one step: no estimate rather than a guess
    for _ in range(4):
        clock.t += 0.1
        est.update()
    assert est.rate() == pytest.approx(10.0)
    assert est.remaining() == pytest.approx(65 * 0.1)


def test_remaining_time_of_a_resumed_loop_counts_from_where_it_resumed():
    clock = FakeClock()
    est = RateEstimate(total=100, initial=40, clock=clock)
    est.observe(40)
    clock.t = 5.0
    est.observe(41)  # the first step after resuming: start-up
    clock.t = 7.0
    est.observe(61)
    assert est.rate() == pytest.approx(10.0) and est.remaining() == pytest.approx(3.9)


def test_lines_every_interval_with_the_remaining_time_and_no_terminal_control_characters():
    clock, lines = FakeClock(), []
    bar = LineProgress(total=20, desc="ESZSL validation search", unit="fit", interval=10, clock=clock,
                       emit=lines.append)
    clock.t = 10.0
    bar.update()  # the first fit: 10 s
    assert lines == ["ESZSL validation search: 1/20 fit (5%), 10 s elapsed"]  # no estimate after one fit
    for _ in range(9):
        clock.t += 2.0
        bar.update()  # 2 s each: a line every 10 s, not at every fit
    assert len(lines) == 2
    assert lines[1] == "ESZSL validation search: 6/20 fit (30%), 20 s elapsed, about 28 s more"
    bar.set_postfix(loss="0.1234")
    bar.close()
    bar.close()  # once
    assert lines[-1] == "ESZSL validation search: done, 10/20 fit in 28 s (loss=0.1234)" and len(lines) == 3
    assert not any(ch in "".join(lines) for ch in "\r\x1b")


def test_a_loop_shorter_than_the_interval_writes_nothing():
    clock, lines = FakeClock(), []
    bar = LineProgress(range(5), desc="epochs", interval=10, clock=clock, emit=lines.append)
    seen = []
    for x in bar:
        seen.append(x)
        clock.t += 1.0
    bar.close()
    assert seen == [0, 1, 2, 3, 4] and bar.n == 5 and lines == []


def test_progress_bar_draws_a_bar_only_on_a_terminal(caplog, monkeypatch):
    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)
    with caplog.at_level(logging.INFO, logger="zslkit.progress"):
        bar = progress_bar(range(3), desc="cells", unit="cell", stream=io.StringIO())
        assert isinstance(bar, LineProgress)
        assert list(bar) == [0, 1, 2]
        bar.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "zslkit.progress"]
    assert messages[0].startswith("cells: 1/3 cell (33%), ") and messages[-1].startswith("cells: done, 3/3 cell in ")
    out = io.StringIO()
    bar = progress_bar(total=10, desc="cells", stream=FakeTerminal(), file=out, mininterval=0)
    assert not isinstance(bar, LineProgress) and "\r" in out.getvalue()  # a tqdm bar, redrawn in place
    clock = FakeClock(100.0)
    bar._time = clock  # tqdm's clock, which the bar's estimate reads too
    clock.t = 110.0
    bar.update(1)
    assert bar.format_dict["rate"] is None  # one step: tqdm shows '?' rather than 10 s a step
    clock.t = 110.5
    bar.update(5)
    assert bar.format_dict["rate"] == pytest.approx(10.0)
    bar.close()
    assert progress_bar(range(2), disable=True, stream=FakeTerminal()).disable


def test_format_duration():
    assert [format_duration(s) for s in (0.4, 42, 185, 7800)] == ["0 s", "42 s", "3 min 05 s", "2 h 10 min"]
