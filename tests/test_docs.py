"""The documentation: the site builds strictly, the README stays a README and tells the truth.

* ``mkdocs build --strict`` (every page, the generated CLI and API references, every link and
  anchor) into a temporary folder. Without mkdocs the test is skipped on a developer's machine and
  **fails under CI** (``CI`` set), where ``.ci/run`` installs the ``docs`` extra.
* The README: under 200 lines, its quick-start test command is the one ``.ci/run`` runs, its
  relative links resolve, and its table of REAL results is the benchmark record's
  (``benchmarks/results/real_awa1.json``), as is the same table on the docs' results page.
* No page speaks of issue numbers or the tracker; one version, in ``zslkit.__version__``, with a
  changelog entry; ``py.typed`` ships in the package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECORD = ROOT / "benchmarks" / "results" / "real_awa1.json"


def _hooks():
    spec = importlib.util.spec_from_file_location("zslkit_docs_hooks", ROOT / "tools" / "docs_hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _site_texts() -> dict[Path, str]:
    """Every text the README and the site show: the README, the changelog, docs/**/*.md, and the
    benchmark files the site renders (tools/docs_hooks.py)."""
    paths = [README, ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "README.md",
             ROOT / "benchmarks" / "notes_awa1_settings.md", *sorted((ROOT / "docs").rglob("*.md"))]
    paths += [p for p in _hooks().record_files() if p.suffix != ".png"]
    return {p: p.read_text(encoding="utf-8") for p in paths}


# --------------------------------------------------------------------------- the site


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("mkdocs is not installed in CI: .ci/run must install the docs extra (pip install -e '.[test,docs]')")
        pytest.skip("mkdocs not installed (pip install -e '.[docs]'); CI builds the site")
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
           "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"
    # the generated references are there and list what the code has
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("zslkit-train", "zslkit-benchmark", "zslkit-data-build", "zslkit-demo", "zslkit-vgse-discover"):
        assert f'id="{command}"' in cli, command
    api = (site / "api" / "pipeline" / "index.html").read_text(encoding="utf-8")
    assert "zslkit.pipeline.TrainConfig" in api and "zslkit.pipeline.train" in api
    # the saved benchmark outputs are pages, and the results page links them
    assert (site / "benchmarks" / "results" / "real_awa1" / "index.html").is_file()
    assert "benchmarks/results/real_awa1/" in (site / "results" / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the README


def test_readme_is_a_readme():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    for heading in ("## Install", "## Quick start", "## Three examples", "## Results on real data", "## Documentation"):
        assert heading in text, heading
    # CPU-only PyTorch is the first install, the GPU build the second
    install = text[text.index("## Install"):text.index("## Quick start")]
    assert install.index("download.pytorch.org/whl/cpu") < install.index("torch==2.14.1")


def test_readme_test_command_is_what_ci_runs():
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start"):]
    block = quick[quick.index("```bash") + len("```bash"):quick.index("```", quick.index("```bash") + 7)]
    commands = [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2 and "zslkit demo" in commands[0], commands
    test_command = commands[1]
    assert test_command == "python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^python3? -m pytest -q$", ci, flags=re.M), "the README's test command is not in .ci/run"
    assert '".[test,docs]"' in ci and "python3 -m build" in ci and "demo --small" in ci and "--version" in ci


def test_readme_relative_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, missing


# --------------------------------------------------------------------------- REAL figures = the record


_MODEL = {"ESZSL": "eszsl", "SAE": "sae", "ALE": "ale", "SJE": "sje", "DeViSE": "devise",
          "softmax_compat": "softmax_compat", "regressor (MSE)": "regressor(loss=mse)",
          "regressor (ReMSE)": "regressor(loss=remse)", "f-CLSWGAN": "clswgan", "ABP": "abp", "DAP": "dap",
          "IAP": "iap"}


def _table(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _cell(values: list[float]) -> str:
    m = f"{np.mean(values):.1f}"
    return m if len(values) == 1 else f"{m} ± {np.std(values):.1f}"


@pytest.mark.parametrize("page", ["README.md", "docs/results.md"])
def test_real_results_tables_are_the_benchmark_record(page):
    """Every figure of the REAL tables is recomputed from the benchmark record (mean ± population
    std over the seeds run; 1 decimal), so the README cannot drift from what was measured."""
    text = (ROOT / page).read_text(encoding="utf-8")
    rec = json.loads(RECORD.read_text(encoding="utf-8"))
    assert "REAL (AwA1, Lampert features)" in text

    standard = _table(text, "| model | T1 % (REAL)")
    assert [r[0] for r in standard] == ["DAP", "IAP", "ESZSL"]
    for name, t1, _published in standard:
        assert t1 == f"{rec['standard']['models'][_MODEL[name]]['T1']:.1f}", name

    cells = rec["proposed"]["cells"]
    proposed = _table(text, "| model | seeds (att / w2v)")
    assert {_MODEL[r[0]] for r in proposed} == set(rec["proposed"]["models"])
    for name, seeds, t1_att, t1_w2v, h_att in proposed:
        by = {sem: [c for c in cells if c["model"] == _MODEL[name] and c["semantic"] == sem]
              for sem in ("att", "word2vec")}
        assert seeds == f"{len(by['att'])} / {len(by['word2vec'])}", name
        assert t1_att == _cell([c["T1"] for c in by["att"]]), name
        assert t1_w2v == _cell([c["T1"] for c in by["word2vec"]]), name
        assert h_att == _cell([c["H"] for c in by["att"]]), name


def test_readme_claims_are_the_benchmark_record():
    text = " ".join(README.read_text(encoding="utf-8").split())
    rec = json.loads(RECORD.read_text(encoding="utf-8"))
    for key, v in rec["rezsl_summary"].items():
        d = v["T1_minus_mse"]
        assert f"{np.mean(d):+.2f} ± {np.std(d):.2f}" in text, key
    vg = rec["vgse_summary"]
    assert f"on T1 for {vg['ahead_on_T1']} of {vg['models']} models and on calibrated H for " \
           f"{vg['ahead_on_H']} of {vg['models']}" in text


# --------------------------------------------------------------------------- wording, version, typing


def test_no_page_speaks_of_issues_or_the_tracker():
    bad = re.compile(r"\bissues?\b|\btracker\b|(?<![\w&])#\d{1,2}\b", re.I)
    hits = [f"{p.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
            for p, text in _site_texts().items() for m in bad.finditer(text)]
    assert not hits, hits


def test_one_version_with_a_changelog_entry():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    import zslkit

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "zslkit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", zslkit.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{zslkit.__version__}]" in changelog and "## [Unreleased]" in changelog

    from click.testing import CliRunner

    from zslkit.cli import main

    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"zslkit, version {zslkit.__version__}"


def test_py_typed_is_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    assert (ROOT / "src" / "zslkit" / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["zslkit"]
    extras = project["project"]["optional-dependencies"]
    assert {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocs-click"} <= {
        re.split(r"[\[<>=]", d)[0] for d in extras["docs"]}
    assert not any(d.startswith("mkdocs") for d in extras["test"])  # the test extra stays light
