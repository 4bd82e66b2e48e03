"""Reports: self-contained HTML with tables and embedded figures; results of many runs as a table
(:func:`results_rows`, :func:`load_results`: a pandas DataFrame)."""

from zslkit.report.html import Section, render, write_report
from zslkit.report.results import load_results, results_rows, write_results_csv

__all__ = ["Section", "load_results", "render", "results_rows", "write_report", "write_results_csv"]
