"""Reports: self-contained HTML with tables and embedded figures."""

from zslkit.report.html import Section, render, write_report

__all__ = ["Section", "render", "write_report"]
