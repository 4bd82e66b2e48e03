"""Shared fixtures: small surrogate datasets built by the tests themselves, and the real xlsa17 metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

# Small matrices dominate the suite; with several BLAS threads on a 2-core machine that also
# runs subprocesses, they are far slower than with one (and less reproducible). One thread, globally.
threadpool_limits(1)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test starts on one BLAS and one torch thread, whatever a previous test set."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(old)

from zslkit.data.surrogate import make_surrogate, make_toy_att_splits, preset_config
from zslkit.data.xlsa17 import load_xlsa17

#: Real xlsa17 split files shipped beside the repository (../shared); CI has them too.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xlsa17-meta"


def shared_file(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():  # pragma: no cover - CI has ../shared; fail loudly rather than skip silently
        pytest.fail(f"real xlsa17 metadata not found at {p} (expected ../shared beside the checkout)")
    return p


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    """A small surrogate xlsa17 directory: 40 classes (30 seen, 10 unseen), 60 images each, 128-d,
    generated with the uncalibrated ``easy`` preset (models must learn something on it)."""
    root = tmp_path_factory.mktemp("toy")
    src = make_toy_att_splits(root / "src" / "att_splits.mat", seed=0)
    return make_surrogate(src, root / "data", seed=0, config=preset_config("easy", feature_dim=128), preset="easy")


@pytest.fixture(scope="session")
def toy_data(toy_dir):
    """``ZSLData`` of :func:`toy_dir` with attributes as the semantic matrix."""
    return load_xlsa17(toy_dir)


@pytest.fixture(scope="session")
def toy_data_w2v(toy_dir):
    return load_xlsa17(toy_dir, semantic="word2vec")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


#: a child process that opens argv[2] as a zslkit output directory, starts an atomic write of argv[1] in it and
#: is SIGKILLed inside the write: what a run killed mid-write leaves on disk (a ``.NAME.tmp-XXXXXXXX`` file
#: beside the destination, and the directory's manifest announcing the file)
_KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {src!r})
from zslkit.utils.outputs import atomic_path, output_dir
with output_dir(sys.argv[2], None, clean_temps=False):
    with atomic_path(sys.argv[1]) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"half a file")
            fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_writer_leftover(path: Path, output: Path | None = None) -> Path:
    """Run a writer of ``path`` (inside the zslkit output directory ``output``, default: the nearest folder
    above it that carries a zslkit manifest, else its own folder) that is SIGKILLed mid-write; returns the
    temporary file it left."""
    import subprocess
    import sys

    from zslkit.utils.outputs import MANIFEST_NAME

    path = Path(path)
    if output is None:
        output = next((d for d in path.parents if (d / MANIFEST_NAME).is_file()), path.parent)
    before = set(path.parent.glob(f".{path.name}.tmp-*")) if path.parent.exists() else set()
    src = str(Path(__file__).resolve().parents[1] / "src")
    subprocess.run([sys.executable, "-c", _KILLED_WRITER.format(src=src), str(path), str(output)],
                   check=False)
    (left,) = set(path.parent.glob(f".{path.name}.tmp-*")) - before
    return left


def temp_leftovers(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if ".tmp-" in p.name)


def png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A ~70-byte PNG whose header claims ``width`` x ``height`` pixels (a "decompression bomb": the
    real ones also carry a few KB of zlib data that inflate to gigabytes); PIL checks the claimed size
    when opening, so the pixel data can stay tiny."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                           + chunk(b"IEND", b""))
    return Path(path)
