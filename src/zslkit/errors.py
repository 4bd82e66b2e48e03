"""Exception hierarchy of zslkit.

Every error caused by user input (a file, a field, a value, a config) derives from
:class:`ZSLKitError`, so the CLI can print one clear line and exit non-zero instead of
a traceback. Each message names the input (file path, field, value) and what was expected;
a misspelt name gets the closest valid one (:func:`did_you_mean`).
"""

from __future__ import annotations

from typing import Iterable


class ZSLKitError(Exception):
    """Base class of every error zslkit raises on purpose."""


class ZSLDataError(ZSLKitError, ValueError):
    """Bad or inconsistent data: missing file or field, wrong shape, bad index, NaN/inf."""


class ConfigError(ZSLKitError, ValueError):
    """Bad configuration value or unknown component name."""


class CheckpointError(ZSLKitError):
    """A checkpoint or run directory that cannot be resumed from."""


class OutputError(ZSLKitError, OSError):
    """An output could not be written (read-only filesystem, full disk, no permission).

    Raised by the atomic writers (:mod:`zslkit.utils.outputs`) with a message naming the file and
    saying what is left on disk: the destination is unchanged (its previous complete version, or
    nothing) and no partial file remains, because writes go to a temporary file that is removed.
    ``errno`` is the operating system's error number (``errno.ENOSPC``, ``errno.EROFS``, ...).
    """

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno N]" prefix
        return str(self.strerror)


class LockedError(ZSLKitError):
    """An output directory is in use by another zslkit process (see :mod:`zslkit.utils.outputs`)."""


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`` (did you mean 'eszsl'?)`` when one of ``choices`` is spelled close to ``word``, else ``""``: appended to
    an "unknown name" message. Close: the same letters in another order (two swapped letters, the commonest
    typo: ``sea`` is ``sae``, not ``sje``), else difflib's similarity of at least 0.6."""
    import difflib

    word, names = str(word), [str(c) for c in choices]
    swapped = [c for c in names if sorted(c) == sorted(word) and c != word]
    close = difflib.get_close_matches(word, swapped, n=1, cutoff=0.0) or difflib.get_close_matches(word, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
