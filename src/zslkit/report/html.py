"""Self-contained HTML reports: tables, figures embedded as base64 PNG, notes.

A report is a list of sections; each section has a title and blocks (paragraphs, tables,
figures). The output is one ``.html`` file with no external references, so it can be mailed,
archived next to a run directory, or opened offline.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from zslkit.utils.outputs import output_file

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.25rem;border-bottom:2px solid #e3e3e3;padding-bottom:.2rem;
margin-top:2.2rem}
.banner{background:#fff4d6;border:1px solid #f0c36d;padding:.6rem .9rem;border-radius:6px;margin:1rem 0}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}th,td{border:1px solid #ddd;padding:.3rem .6rem;
text-align:right}th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}
tr.best td{font-weight:600;background:#eef8ee}td.s{text-align:left}
figure{display:inline-block;margin:.6rem 1rem .6rem 0;vertical-align:top}figure img{max-width:520px;
border:1px solid #eee}figcaption{font-size:.85rem;color:#555;max-width:520px}
.muted{color:#666;font-size:.88rem}code{background:#f4f4f4;padding:0 .25rem;border-radius:3px}
"""


@dataclass
class Section:
    title: str
    blocks: list[str] = field(default_factory=list)

    def text(self, s: str) -> "Section":
        self.blocks.append(f"<p>{html.escape(s)}</p>")
        return self

    def note(self, s: str) -> "Section":
        self.blocks.append(f'<p class="muted">{html.escape(s)}</p>')
        return self

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None,
              highlight: str | None = None, fmt: str = "{:.1f}") -> "Section":
        """Rows of dicts as a table; ``highlight`` names a numeric column whose best row is marked."""
        if not rows:
            return self.note("(no rows)")
        cols = list(columns or rows[0].keys())
        best = None
        if highlight:
            vals = [r.get(highlight) for r in rows]
            finite = [(v, i) for i, v in enumerate(vals) if isinstance(v, (int, float)) and math.isfinite(v)]
            best = max(finite)[1] if finite else None
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = []
        for i, r in enumerate(rows):
            tds = "".join(f"<td>{html.escape(_fmt(r.get(c), fmt))}</td>" if _numeric(r.get(c)) else
                          f'<td class="s">{html.escape(_fmt(r.get(c), fmt))}</td>' for c in cols)
            body.append(f'<tr class="best">{tds}</tr>' if i == best else f"<tr>{tds}</tr>")
        self.blocks.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        return self

    def figure(self, png: str | os.PathLike, caption: str = "") -> "Section":
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        self.blocks.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(v: Any, fmt: str) -> str:
    if isinstance(v, float):
        return fmt.format(v) if math.isfinite(v) else "n/a"
    return "" if v is None else str(v)


def render(title: str, sections: Sequence[Section], banner: str | None = None, subtitle: str = "") -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="muted">{html.escape(subtitle)}</p>')
    if banner:
        parts.append(f'<div class="banner">{html.escape(banner)}</div>')
    nav = " · ".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections))
    parts.append(f"<p>{nav}</p>")
    for i, s in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{html.escape(s.title)}</h2>')
        parts.extend(s.blocks)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | os.PathLike, title: str, sections: Sequence[Section], banner: str | None = None,
                 subtitle: str = "", inputs: Sequence[str | os.PathLike] = ()) -> Path:
    """Render and write the report atomically (:func:`zslkit.utils.outputs.output_file`: a file zslkit did not
    write is never replaced, and ``inputs``, the files the report was made from, are never the output);
    returns the path."""
    with output_file(path, inputs=tuple(inputs)) as tmp:
        tmp.write_text(render(title, sections, banner=banner, subtitle=subtitle), encoding="utf-8")
    return Path(path)
