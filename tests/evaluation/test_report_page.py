"""The report page: markdown and HTML from one document, figures copied beside it, missing figures dropped with a
note, text escaped; and the page rendered by a real headless browser with every figure decoded."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hipmonai.evaluation.report_page import (  # noqa: E402
    ReportDocument,
    ReportFigure,
    ReportSection,
    ReportTable,
    render_html,
    render_markdown,
    write_report_page,
)


def _png(path, colour):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], color=colour)
    fig.savefig(path)
    plt.close(fig)
    return path


def _document(tmp_path):
    (tmp_path / "sub").mkdir(exist_ok=True)
    return ReportDocument("Title <&>", ["Intro with `code` and a | pipe."], [
        ReportSection("bundle_a: first", ["Text."],
                      tables=[ReportTable(["name", "value"], [["a|b", "1.000"], ["<c>", "n/a"]], "A caption.")],
                      figures=[ReportFigure(_png(tmp_path / "roc.png", "red"), "ROC curves."),
                               ReportFigure(_png(tmp_path / "sub" / "roc.png", "blue"), "Another ROC.")],
                      commands=['(cd x && python -m monai.bundle run --config_file "[\'a.json\']")']),
        ReportSection("bundle_b: second", figures=[ReportFigure(tmp_path / "never_written.png", "Missing.")]),
    ])


def test_markdown_and_html_agree_and_escape(tmp_path):
    document = _document(tmp_path)
    markdown, page = render_markdown(document), render_html(document)
    assert markdown.startswith("# Title <&>\n")
    assert "| a\\|b | 1.000 |" in markdown and "![ROC curves.](figures/bundle_a_roc.png)" in markdown
    assert "figures/bundle_a_roc_2.png" in markdown, "two figures with one file name get distinct copies"
    assert "<title>Title &lt;&amp;&gt;</title>" in page and "<td>&lt;c&gt;</td>" in page
    assert "<td class=\"num\">1.000</td>" in page and "<td class=\"num\">n/a</td>" in page
    assert "<code>code</code>" in page and "<script" not in page
    assert page.count("<figure>") == 3 and page.count('<section id="') == 2


def test_write_copies_figures_and_drops_missing_ones(tmp_path):
    written = write_report_page(_document(tmp_path), tmp_path / "report")
    copies = sorted(p.name for p in written["figures"].iterdir())
    assert copies == ["bundle_a_roc.png", "bundle_a_roc_2.png"]
    markdown = written["markdown"].read_text()
    assert "never_written" not in markdown.split("Figures not produced")[0]
    assert "Figures not produced by this run: `never_written.png`." in markdown
    assert written["html"].read_text().count("<img ") == 2


def test_page_renders_every_figure_in_headless_chromium(tmp_path, page_figures):
    written = write_report_page(_document(tmp_path), tmp_path / "report")
    title, images = page_figures(written["html"])
    assert title == "Title <&>"
    assert len(images) == 2
    assert all(i["complete"] and i["width"] == 200 and i["height"] == 150 for i in images), images
