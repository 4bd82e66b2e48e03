import base64


from zslkit.report.figures import seen_unseen_curves
from zslkit.report import Section, render, write_report


def test_report_is_self_contained_and_escaped(tmp_path):
    png = seen_unseen_curves([{"U": [0, 50, 50], "S": [90, 90, 0]}], ["run <a>"], tmp_path / "c.png")
    s = Section("Results <1>").table([{"model": "eszsl", "H": 40.0}, {"model": "sje", "H": 55.5},
                                      {"model": "bad", "H": float("nan")}], highlight="H").figure(png, "curve & co")
    page = render("zslkit report", [s], banner="SURROGATE data")
    assert "Results &lt;1&gt;" in page and "curve &amp; co" in page
    assert '<tr class="best"><td class="s">sje</td><td>55.5</td></tr>' in page
    assert "n/a" in page and "SURROGATE" in page
    b64 = page.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(b64)[:4] == b"\x89PNG"
    assert "http://" not in page and "https://" not in page  # nothing external
    out = write_report(tmp_path / "r.html", "t", [s])
    assert out.read_text().startswith("<!DOCTYPE html>")
