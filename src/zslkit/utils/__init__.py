"""Small shared helpers: output directories and atomic writes (outputs), seeding, threads."""

from zslkit.utils.outputs import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text
from zslkit.utils.seed import seed_everything

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "seed_everything"]
