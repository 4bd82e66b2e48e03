"""Progress of long loops: a bar on a terminal, plain log lines anywhere else.

Every loop of zslkit that reports progress (grid cells, a validation search, training epochs, feature
extraction) asks :func:`progress_bar` for its reporter, which has the part of tqdm's interface zslkit
uses (iterate over it, ``update``, ``set_postfix``, ``set_postfix_str``, ``set_description``,
``close``, ``n``; also a context manager):

* stderr is a terminal (or the code runs in a Jupyter notebook): a tqdm bar, redrawn in place;
* anything else (stderr redirected to a file, a pipe, a CI log, a batch job): :class:`LineProgress`,
  which writes one ordinary log line (logger ``zslkit.progress``, level INFO) at most every
  :data:`LINE_INTERVAL_S` seconds per loop, and a last line when a loop that reported finishes. It
  never writes a carriage return or an escape sequence, so redirected logs stay readable; a loop
  shorter than the interval writes nothing, which keeps the many short inner loops (the epochs of
  each fit of a search) out of the log.

The time still needed comes from :class:`RateEstimate` in both cases: the rate measured over the steps
completed *after the first one*. The first step pays for start-up (imports, caches, the shared
decomposition of a closed-form model's grid, the first batch of a data loader), so extrapolating it, as
an estimate from the first fit does, can be off by a factor of 30 (one search announced 691 s more and
finished in 22 s).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable, Iterable, Iterator

log = logging.getLogger("zslkit.progress")

__all__ = ["LINE_INTERVAL_S", "LineProgress", "RateEstimate", "format_duration", "progress_bar"]

#: seconds between two progress lines of one loop when stderr is not a terminal
LINE_INTERVAL_S = 10.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 10 min``: a duration as a person reads it."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class RateEstimate:
    """Rate and remaining time of a loop from the steps measured after its first one.

    ``observe(n)`` records the count of completed steps (cumulative, as tqdm's ``n``) at the time
    ``clock()`` returns; the first observation that shows progress marks the end of the start-up.
    The rate is the steps completed since then over the time since then, so it needs a second
    observation of progress; until then there is no estimate (None) rather than a guess.
    """

    def __init__(self, total: float | None = None, initial: float = 0, clock: Callable[[], float] = time.perf_counter):
        self.total = total
        self.clock = clock
        self.n = initial
        self._initial = initial
        self._first: tuple[float, float] | None = None  # (time, n) when the first step was seen done
        self._last: tuple[float, float] | None = None  # (time, n) of the latest progress

    def observe(self, n: float) -> None:
        """The loop has completed ``n`` steps now."""
        if n == self.n:  # nothing new since the last observation
            return
        self.n = n
        if n <= self._initial:
            return
        now = self.clock()
        if self._first is None:
            self._first = (now, n)
        else:
            self._last = (now, n)

    def update(self, k: float = 1) -> None:
        """``k`` more steps completed now."""
        self.observe(self.n + k)

    def rate(self) -> float | None:
        """Steps per second since the first step ended (None until a later step ended)."""
        if self._first is None or self._last is None:
            return None
        dt, dn = self._last[0] - self._first[0], self._last[1] - self._first[1]
        return dn / dt if dt > 0 and dn > 0 else None

    def remaining(self) -> float | None:
        """Seconds still needed at the measured rate (None: no total or no rate yet)."""
        r = self.rate()
        if r is None or not self.total:
            return None
        return max(0.0, (self.total - self.n) / r)


def _postfix_text(ordered_dict: Any = None, **kwargs: Any) -> str:
    items = {**(dict(ordered_dict) if ordered_dict else {}), **kwargs}
    return ", ".join(f"{k}={v}" for k, v in items.items())


class LineProgress:
    """A progress reporter that writes plain lines (no ``\\r``, no escape sequence): see the module docstring.

    Args:
        iterable: iterated over (``for x in bar``), counting one step per item; or None with ``total``.
        total: number of steps (default: ``len(iterable)`` when it has one).
        desc, unit: what the line calls the loop and its steps.
        initial: steps already done (a resumed loop).
        interval: seconds between two lines (default :data:`LINE_INTERVAL_S`).
        clock: time source (seconds); tests pass a fake one.
        emit: receives each line (default: logger ``zslkit.progress`` at INFO, or stderr when
            logging is not configured at all).
    """

    def __init__(self, iterable: Iterable | None = None, total: float | None = None, desc: str | None = None,
                 unit: str = "it", initial: float = 0, interval: float | None = None,
                 clock: Callable[[], float] = time.perf_counter, emit: Callable[[str], None] | None = None,
                 **_ignored: Any):
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable = iterable
        self.total = total
        self.desc = desc or ""
        self.unit = unit
        self.interval = LINE_INTERVAL_S if interval is None else float(interval)
        self.clock = clock
        self.emit = emit or _log_line
        self.postfix = ""
        self.n = initial
        self._estimate = RateEstimate(total, initial, clock)
        self._start = clock()
        self._last_line: float | None = None
        self._closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in () if self.iterable is None else self.iterable:
                yield item
                self.update(1)
        finally:  # as tqdm: a loop over the reporter ends it
            self.close()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def update(self, n: float = 1) -> None:
        self.n += n
        self._estimate.observe(self.n)
        now = self.clock()
        since = now - (self._start if self._last_line is None else self._last_line)
        if since >= self.interval:
            self._line(now)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix = _postfix_text(ordered_dict, **kwargs)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def write(self, s: str) -> None:
        self.emit(s)

    def close(self) -> None:
        """Ends the loop; one last line if the loop reported anything (so that its end is in the log)."""
        if self._closed:
            return
        self._closed = True
        if self._last_line is not None:
            elapsed = self.clock() - self._start
            done = f"{self._count()} {self.unit} in {format_duration(elapsed)}"
            self.emit(f"{self.desc}: done, {done}" + (f" ({self.postfix})" if self.postfix else ""))

    def _count(self) -> str:
        n = f"{self.n:g}" if isinstance(self.n, float) else str(self.n)
        if self.total:
            return f"{n}/{self.total:g}" if isinstance(self.total, float) else f"{n}/{self.total}"
        return n

    def line(self) -> str:
        """The progress line as it would be written now."""
        elapsed = self.clock() - self._start
        parts = [f"{self._count()} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.n / self.total:.0f}%)"
        parts.append(f"{format_duration(elapsed)} elapsed")
        left = self._estimate.remaining()
        if left is not None:
            parts.append(f"about {format_duration(left)} more")
        text = f"{self.desc}: " + ", ".join(parts) if self.desc else ", ".join(parts)
        return text + (f" ({self.postfix})" if self.postfix else "")

    def _line(self, now: float) -> None:
        self._last_line = now
        self.emit(self.line())


def _log_line(text: str) -> None:
    if log.hasHandlers():
        log.info("%s", text)
    else:  # no logging configured (a script, a REPL): plain lines on stderr
        print(text, file=sys.stderr, flush=True)


def _is_interactive(stream: Any) -> bool:
    """Whether progress may be drawn as a bar: ``stream`` is a terminal, or the code runs in a notebook."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        pass
    try:
        import tqdm.autonotebook as auto
        import tqdm.std as std

        return auto.tqdm is not std.tqdm  # tqdm found a notebook front end
    except Exception:  # noqa: BLE001 - no notebook support: not a notebook
        return False


def _bar_class():
    """tqdm.auto's bar with the remaining time of :class:`RateEstimate` (after the first step) instead of
    tqdm's (smoothed over every step, the first included)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        @property
        def format_dict(self):
            d = super().format_dict
            est = self.__dict__.get("_zslkit_estimate")
            if est is None:
                est = self.__dict__["_zslkit_estimate"] = RateEstimate(self.total, getattr(self, "initial", 0),
                                                                       clock=lambda: self._time())  # tqdm's clock
            est.total = self.total
            est.observe(self.n)
            d["rate"] = est.rate()  # tqdm derives the remaining time from it (unknown: '?')
            return d

    return _Bar


def progress_bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str | None = None,
                 unit: str = "it", disable: bool = False, leave: bool = True, initial: float = 0,
                 stream: Any = None, **tqdm_kwargs: Any):
    """A progress reporter for a loop (see the module docstring): a tqdm bar when ``stream`` (default
    stderr) is a terminal, :class:`LineProgress` otherwise; a silent one with ``disable``.

    ``tqdm_kwargs`` (``position``, ``dynamic_ncols``, ...) go to the bar and are ignored by the lines.
    """
    if disable:
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=True, initial=initial)
    if _is_interactive(sys.stderr if stream is None else stream):
        return _bar_class()(iterable, total=total, desc=desc, unit=unit, leave=leave, initial=initial,
                            **tqdm_kwargs)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial)
