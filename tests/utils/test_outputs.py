"""zslkit.utils.outputs: what zslkit may write, replace and delete in a directory (manifest + lock + atomic writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import killed_writer_leftover
from zslkit.errors import LockedError
from zslkit.utils.outputs import (
    MANIFEST_NAME,
    ForeignFileError,
    adopt_new_files,
    atomic_write_text,
    claim_output,
    file_identity,
    output_dir,
    output_file,
    owns,
    read_manifest,
    remove_output,
)

REPO = Path(__file__).resolve().parents[2]


def test_a_new_directory_is_claimed_and_every_write_is_listed_with_its_hash(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run") as od:
        atomic_write_text(out / "metrics.json", "{}")
        atomic_write_text(out / "figures" / "a.png", "png")
        assert od.owns("metrics.json") and od.owns("figures")
    m = read_manifest(out)
    assert m["kind"] == "run" and m["scope"] == "directory"
    assert set(m["entries"]) == {"metrics.json", "figures", "figures/a.png"}
    assert m["entries"]["figures"] == {"type": "dir"}
    rec = m["entries"]["figures/a.png"]
    assert rec["type"] == "file" and rec["sha256"] == file_identity(out / "figures" / "a.png")["sha256"]
    assert rec["size"] == 3 and owns(out, "figures/a.png") and not owns(out, "nothing.txt")


@pytest.mark.parametrize("foreign", ["config.yaml", "curve.json", "predictions.npz", "metrics.json", ".DS_Store"])
def test_a_non_empty_directory_without_a_manifest_is_refused_untouched(tmp_path, foreign):
    out = tmp_path / "project"
    out.mkdir()
    (out / foreign).write_text("mine")
    (out / "notes.txt").write_text("mine too")
    with pytest.raises(ForeignFileError, match=rf"project: not empty and not written by zslkit \(it holds "
                                               rf".*{foreign}.*choose another output directory, or move"):
        with output_dir(out, "run"):
            pass
    assert sorted(os.listdir(out)) == sorted([foreign, "notes.txt", ".zslkit.lock"])
    assert (out / foreign).read_text() == "mine"


def test_an_empty_directory_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    with output_dir(tmp_path / "empty", "grid"):
        atomic_write_text(tmp_path / "empty" / "results.csv", "x")
    assert read_manifest(tmp_path / "empty")["kind"] == "grid"


def test_a_new_directory_nothing_was_written_to_leaves_no_trace(tmp_path):
    with pytest.raises(RuntimeError):
        with output_dir(tmp_path / "run", "run"):
            raise RuntimeError("failed before writing")
    assert not (tmp_path / "run").exists()


def test_writes_never_replace_a_foreign_or_changed_file(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        atomic_write_text(out / "config.yaml", "zslkit")
    (out / "user.txt").write_text("mine")
    with output_dir(out, "run"):
        with pytest.raises(ForeignFileError, match="user.txt: exists and was not written by zslkit"):
            atomic_write_text(out / "user.txt", "zslkit")
        atomic_write_text(out / "config.yaml", "zslkit again")  # its own, unchanged: replaced
    assert (out / "user.txt").read_text() == "mine"
    (out / "config.yaml").write_text("edited by the user")
    with output_dir(out, "run"):
        with pytest.raises(ForeignFileError, match="config.yaml: was changed after zslkit wrote it"):
            atomic_write_text(out / "config.yaml", "zslkit")
    assert (out / "config.yaml").read_text() == "edited by the user"


def test_an_unchanged_file_with_a_new_mtime_is_still_zslkits(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        atomic_write_text(out / "a.txt", "same")
    os.utime(out / "a.txt", ns=(1, 1))  # touched (copied, restored from backup): contents decide
    assert owns(out, "a.txt")


def test_overwrite_removes_only_listed_entries_and_keeps_folders_with_foreign_content(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        for rel in ("metrics.json", "figures/a.png", "checkpoints/epoch_1.pt", "tensorboard/events.out"):
            atomic_write_text(out / rel, "zslkit")
    (out / "figures" / "mine.png").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "x").write_text("x")
    with output_dir(out, "run", overwrite=True) as od:
        assert set(od.entries) == {"figures"}  # kept: it holds the user's file
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        ".zslkit-manifest.jsonl", ".zslkit.lock", "figures", "figures/mine.png", "mine", "mine/x"]


def test_overwrite_checks_everything_before_removing_anything(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        atomic_write_text(out / "a.txt", "zslkit")
        atomic_write_text(out / "b.txt", "zslkit")
    (out / "b.txt").write_text("changed")
    with pytest.raises(ForeignFileError, match="b.txt was changed after zslkit wrote it.*nothing was removed"):
        with output_dir(out, "run", overwrite=True):
            pass
    assert (out / "a.txt").read_text() == "zslkit" and (out / "b.txt").read_text() == "changed"


def test_another_kind_of_zslkit_output_is_refused_then_replaced_with_overwrite(tmp_path):
    out = tmp_path / "g"
    with output_dir(out, "grid"):
        atomic_write_text(out / "results.csv", "x")
    with pytest.raises(ForeignFileError, match="holds a zslkit grid directory, not a run directory.*--overwrite"):
        with output_dir(out, "run"):
            pass
    with output_dir(out, "run", overwrite=True) as od:
        assert od.kind == "run" and od.empty
    assert not (out / "results.csv").exists()


def test_nested_outputs_are_removed_through_their_own_manifest(tmp_path):
    out = tmp_path / "grid"
    with output_dir(out, "grid"):
        with output_dir(out / "cells" / "c1", "run"):
            atomic_write_text(out / "cells" / "c1" / "metrics.json", "{}")
    assert read_manifest(out)["entries"]["cells/c1"] == {"type": "nested"}
    (out / "cells" / "c1" / "mine.txt").write_text("mine")
    with output_dir(out, "grid", overwrite=True):
        pass
    assert sorted(p.name for p in (out / "cells" / "c1").iterdir()) == [MANIFEST_NAME, ".zslkit.lock", "mine.txt"]


HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from zslkit.utils.outputs import output_dir
with output_dir(sys.argv[1], "run"):
    print("held", flush=True)
    time.sleep(120)
""".format(src=str(REPO / "src"))


def test_temp_cleanup_stays_out_of_sub_directories_another_process_holds(tmp_path):
    out = tmp_path / "grid"
    with output_dir(out, "grid") as od:
        od.add_nested("cells/c1")
        od.mkdir("plain")
    cell = out / "cells" / "c1"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(cell)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        live = cell / ".metrics.json.tmp-abcd1234"  # a live writer's temporary file in the held cell
        live.write_text("being written")
        stale = killed_writer_leftover(out / "plain" / "x.json", out)
        with output_dir(out, "grid"):
            assert live.exists() and not stale.exists()
        with pytest.raises(ForeignFileError, match="c1 is in use by another zslkit process"):
            with output_dir(out, "grid", overwrite=True):
                pass
        assert live.exists()
    finally:
        p.kill()
        p.wait()


def test_single_files_go_into_a_users_folder_without_claiming_it(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with output_file(folder / "report.html") as tmp:
        tmp.write_text("<html>1</html>")
    with output_file(folder / "report.html") as tmp:  # its own: replaced
        tmp.write_text("<html>2</html>")
    assert (folder / "report.html").read_text() == "<html>2</html>"
    assert read_manifest(folder)["scope"] == "files"
    with pytest.raises(ForeignFileError, match="notes.txt: exists and was not written by zslkit"):
        with output_file(folder / "notes.txt") as tmp:
            tmp.write_text("x")
    with pytest.raises(ForeignFileError, match="already exists.*--overwrite"):
        with output_file(folder / "report.html", replace=False):
            pass
    with pytest.raises(ForeignFileError, match="one of the input files"):
        with output_file(folder / "notes.txt", inputs=(folder / "notes.txt",)):
            pass
    # a folder of the user's that received one zslkit file is still not a directory zslkit may fill
    with pytest.raises(ForeignFileError, match=r"holds files zslkit did not write \(notes.txt\)"):
        with output_dir(folder, "run"):
            pass
    assert (folder / "notes.txt").read_text() == "mine"


def test_remove_output_refuses_what_zslkit_did_not_write(tmp_path):
    out = tmp_path / "d"
    with output_dir(out, "dataset"):
        atomic_write_text(out / "trainclasses3.txt", "a")
    (out / "valclasses3.txt").write_text("users")
    with output_dir(out, "dataset"):
        assert remove_output(out / "trainclasses3.txt") and not (out / "trainclasses3.txt").exists()
        with pytest.raises(ForeignFileError, match="valclasses3.txt: was not written by zslkit"):
            remove_output(out / "valclasses3.txt")
    with pytest.raises(ForeignFileError, match="only files of an output directory it holds"):
        remove_output(out / "valclasses3.txt")
    assert (out / "valclasses3.txt").read_text() == "users"


def test_files_written_in_place_are_claimed_before_they_are_opened(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        with open(claim_output(out / "run.log", growing=True), "a") as fh:
            fh.write("line\n")
        with open(claim_output(out / "cache.npy"), "wb") as fh:  # written in place, once
            fh.write(b"x" * 10)
        with adopt_new_files(out / "tensorboard") as d:
            (d / "events.out.tfevents.1").write_text("e")
    entries = read_manifest(out)["entries"]
    assert entries["run.log"] == {"type": "pending", "growing": True}  # a log keeps growing: owned by name
    assert entries["tensorboard/events.out.tfevents.1"] == {"type": "pending", "growing": True}
    assert entries["cache.npy"]["type"] == "file" and entries["cache.npy"]["size"] == 10  # hashed once closed
    (out / "user.log").write_text("mine")
    with output_dir(out, "run"):
        with pytest.raises(ForeignFileError, match="user.log"):
            claim_output(out / "user.log")


def test_a_torn_last_manifest_line_is_ignored(tmp_path):
    out = tmp_path / "run"
    with output_dir(out, "run"):
        atomic_write_text(out / "a.txt", "a")
    with open(out / MANIFEST_NAME, "a") as fh:
        fh.write('{"op": "file", "path": "b.tx')  # a writer killed mid-line
    assert set(read_manifest(out)["entries"]) == {"a.txt"}
    with open(out / MANIFEST_NAME, "a") as fh:
        fh.write('\n{"op": "file", "path": "../outside.txt", "size": 1}\n')  # never trusted
    assert set(read_manifest(out)["entries"]) == {"a.txt"}


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"run directory is in use by pid {p.pid}"):
            with output_dir(out, "run"):
                pass
    finally:
        p.kill()
        p.wait()


def test_the_manifest_survives_a_kill_mid_write(tmp_path):
    out = tmp_path / "run"
    killed_writer_leftover(out / "metrics.json", out)
    m = read_manifest(out)
    assert m is not None and m["entries"]["metrics.json"]["type"] == "pending"
    with output_dir(out, "run") as od:  # still zslkit's: the rerun resumes in it
        assert not (out / "metrics.json").exists()
        atomic_write_text(out / "metrics.json", json.dumps({"ok": 1}))
        assert od.owns("metrics.json")
