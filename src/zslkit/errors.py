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
