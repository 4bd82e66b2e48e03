"""Exception hierarchy of zslkit.

Every error caused by user input (a file, a field, a value, a config) derives from
:class:`ZSLKitError`, so the CLI can print one clear line and exit non-zero instead of
a traceback. Each message names the input (file path, field, value) and what was expected.
"""

from __future__ import annotations


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
