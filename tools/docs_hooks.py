"""MkDocs hooks: pages generated from files of the repository, so the site never holds a hand copy.

* ``benchmarks/index.md`` is ``benchmarks/README.md`` (every benchmark script, its command and its
  latest saved result), with the ``results/NAME`` files it names linked to their pages;
* ``benchmarks/results/NAME.md`` for every saved benchmark output ``benchmarks/results/*.md`` and
  ``*.txt`` (``.txt`` shown verbatim in a code block), and ``benchmarks/notes_awa1_settings.md``; the
  screenshots (``*.png``) are copied as they are. The adversarial driver's logs are left out: they
  record the robustness cases a development version failed, not results the pages quote;
* ``changelog.md`` is ``CHANGELOG.md``.

Docs pages link figures to these record pages (``benchmarks/results/real_awa1.md``), and
``mkdocs build --strict`` fails when a linked record no longer exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
LEFT_OUT = ("adversarial",)  # robustness-driver logs (see the module docstring)


def record_files() -> list[Path]:
    """The saved benchmark outputs the site shows, in name order."""
    out = []
    for p in sorted(RESULTS.iterdir()):
        if p.suffix in (".md", ".txt", ".png") and not p.name.startswith(LEFT_OUT):
            out.append(p)
    return out


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.rstrip()}\n{ticks}\n"


def record_page(path: Path) -> str:
    """The page of one saved benchmark output: its origin, then its text unchanged."""
    rel = path.relative_to(ROOT).as_posix()
    head = (f"!!! note \"Saved benchmark output\"\n    This page is the file `{rel}` of the repository, as the "
            f"benchmark script wrote it. See the [benchmarks overview](../index.md) for the script and command "
            f"that produce it.\n\n")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return head + text
    return f"# {path.name}\n\n" + head + _fence(text)


def _link_results(text: str, records: list[Path]) -> str:
    """`results/NAME` code spans of a README -> links to the record pages."""
    pages = {p.name: page_uri(p)[len("benchmarks/"):] for p in records}

    def sub(m: re.Match) -> str:
        name = m.group(1)
        return f"[`results/{name}`]({pages[name]})" if name in pages else m.group(0)

    return re.sub(r"`results/([A-Za-z0-9_.\-]+)`", sub, text)


def page_uri(path: Path) -> str:
    """Where the page of a saved output lives in the site (``x.txt`` -> ``x_txt.md``: a ``.md`` and a
    ``.txt`` of the same stem, such as ``adversarial.txt`` / ``.json``, never share a page)."""
    if path.suffix == ".md":
        return f"benchmarks/results/{path.name}"
    if path.suffix == ".txt":
        return f"benchmarks/results/{path.stem}_txt.md"
    return f"benchmarks/results/{path.name}"


def benchmarks_index(records: list[Path]) -> str:
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    body = _link_results(readme, records)
    lines = ["", "## Saved outputs shown on this site", ""]
    for p in records:
        if p.suffix != ".png":
            lines.append(f"- [`results/{p.name}`]({page_uri(p)[len('benchmarks/'):]})")
    lines += ["- [`notes_awa1_settings.md`](notes_awa1_settings.md): settings notes for the REAL AwA1 benchmark", ""]
    head = ("!!! note \"From the repository\"\n    This page is `benchmarks/README.md`; every saved output it names "
            "is linked to its own page.\n\n")
    return head + body + "\n".join(lines)


def on_files(files: Files, config) -> Files:
    records = record_files()
    for p in records:
        uri = page_uri(p)
        if p.suffix == ".png":
            files.append(File.generated(config, uri, abs_src_path=str(p)))
        else:
            files.append(File.generated(config, uri, content=record_page(p)))
    files.append(File.generated(config, "benchmarks/index.md", content=benchmarks_index(records)))
    notes = BENCH / "notes_awa1_settings.md"
    files.append(File.generated(config, "benchmarks/notes_awa1_settings.md",
                                content=record_page(notes).replace("../index.md", "index.md")))
    changelog = ROOT / "CHANGELOG.md"
    files.append(File.generated(config, "changelog.md", content=changelog.read_text(encoding="utf-8")))
    return files


#: Sphinx roles in the docstrings (``:class:`ZSLData```, ``:math:`W_1```): Markdown renders the role's
#: argument as code and leaves the role's name in front of it; the API pages drop the name (and the
#: ``~`` that shortens a dotted path) and keep the code. Nothing else of a docstring is changed.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|math|ref|term):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w.]+\.)?([\w]+)</code>")


def on_page_content(html: str, page, config, files) -> str:
    if not page.file.src_uri.startswith("api/"):
        return html
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))
