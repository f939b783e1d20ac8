"""One report document, written both as markdown and as a static HTML page.

A :class:`ReportDocument` is a title, an introduction and :class:`ReportSection` s, each with paragraphs,
:class:`ReportTable` s and :class:`ReportFigure` s (a PNG beside the page and a caption that says what it shows).
:func:`write_report_page` copies every figure into ``<out>/figures/`` so the folder is self-contained (open
``report.html`` from disk, zip it, share it) and writes ``report.md`` and ``report.html`` from the same document, so
the two never disagree. The HTML page has no script, no external resource and inline CSS.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hipmonai.atomic import write_text_atomic

__all__ = ["ReportDocument", "ReportFigure", "ReportSection", "ReportTable", "render_html", "render_markdown",
           "write_report_page"]


@dataclass
class ReportTable:
    """A table: ``header`` cells and ``rows`` of cells (already formatted text), with an optional caption."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class ReportFigure:
    """A PNG and what it shows. ``path`` is where the image is now; the page links its copy in ``figures/``."""

    path: Path
    caption: str
    name: str = ""


@dataclass
class ReportSection:
    """A titled part of the report; ``paragraphs`` may contain ``code`` spans written with backticks; ``headline`` is
    its result in one line, for a summary table (not rendered in the section itself)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    headline: str = ""


@dataclass
class ReportDocument:
    """The whole report."""

    title: str
    intro: list[str] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)


def _figure_names(document: ReportDocument) -> dict[int, str]:
    """A unique file name in ``figures/`` for every figure (by ``id``), from its section and file name."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for section in document.sections:
        prefix = re.sub(r"[^a-z0-9]+", "_", section.title.split(":")[0].lower()).strip("_")[:40]
        for figure in section.figures:
            stem = figure.name or f"{prefix}_{Path(figure.path).stem}"
            name, k = f"{stem}.png", 1
            while name in used:
                k += 1
                name = f"{stem}_{k}.png"
            used.add(name)
            names[id(figure)] = name
    return names


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(document: ReportDocument, figure_names: dict[int, str] | None = None) -> str:
    """The document as GitHub markdown; figures link ``figures/<name>``."""
    names = figure_names or _figure_names(document)
    lines = [f"# {document.title}", ""]
    for paragraph in document.intro:
        lines += [paragraph, ""]
    for section in document.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        for table in section.tables:
            if table.caption:
                lines += [f"*{table.caption}*", ""]
            lines.append("| " + " | ".join(_md_cell(h) for h in table.header) + " |")
            lines.append("|" + "---|" * len(table.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
        for figure in section.figures:
            lines += [f"![{_md_cell(figure.caption)}](figures/{names[id(figure)]})", "", f"*{figure.caption}*", ""]
        if section.commands:
            lines += ["Reproduce:", "", "```bash", *section.commands, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d2430; line-height: 1.45; }
h1 { border-bottom: 2px solid #2b5d8a; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; color: #2b5d8a; }
nav ul { columns: 2; }
table { border-collapse: collapse; margin: .5rem 0 1.2rem; font-size: .92rem; }
th, td { border: 1px solid #c8d0da; padding: .25rem .55rem; text-align: left; }
th { background: #eef2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
figure { margin: 1rem 0 1.8rem; }
figure img { max-width: 100%; border: 1px solid #d5dbe3; }
figcaption { font-size: .92rem; color: #3b4656; margin-top: .3rem; }
pre { background: #f5f7f9; padding: .6rem; overflow-x: auto; font-size: .85rem; }
code { background: #f5f7f9; padding: 0 .2rem; }
"""


_NUMBER = re.compile(r"[-+−]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*%?|n/a")


def _inline(text: str) -> str:
    """HTML of a paragraph: escaped, with backtick spans as ``<code>``."""
    parts = str(text).split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def render_html(document: ReportDocument, figure_names: dict[int, str] | None = None) -> str:
    """The document as one static HTML page (inline CSS, no script); figures load from ``figures/<name>``."""
    names = figure_names or _figure_names(document)
    anchors = [re.sub(r"[^a-z0-9]+", "-", s.title.lower()).strip("-") for s in document.sections]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(document.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{html.escape(document.title)}</h1>"]
    out += [f"<p>{_inline(p)}</p>" for p in document.intro]
    out += ["<nav><ul>", *(f'<li><a href="#{a}">{html.escape(s.title)}</a></li>'
                           for a, s in zip(anchors, document.sections, strict=True)), "</ul></nav>"]
    for anchor, section in zip(anchors, document.sections, strict=True):
        out.append(f'<section id="{anchor}">')
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        out += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
        for table in section.tables:
            out.append("<table>")
            if table.caption:
                out.append(f"<caption>{_inline(table.caption)}</caption>")
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table.header) + "</tr>")
            out += ["<tr>" + "".join(f'<td class="num">{_inline(c)}</td>' if _NUMBER.fullmatch(str(c).strip())
                                     else f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in table.rows]
            out.append("</table>")
        for figure in section.figures:
            caption = html.escape(figure.caption)
            out.append(f'<figure><img src="figures/{html.escape(names[id(figure)])}" alt="{caption}">'
                       f"<figcaption>{_inline(figure.caption)}</figcaption></figure>")
        if section.commands:
            out.append("<p>Reproduce:</p><pre>" + html.escape("\n".join(section.commands)) + "</pre>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def write_report_page(document: ReportDocument, out: str | os.PathLike) -> dict[str, Path]:
    """Copy the figures into ``out/figures`` and write ``out/report.md`` and ``out/report.html``.

    Figures whose file does not exist are dropped from the document (with a note in their section), so the page
    never shows a broken image. Returns the paths written: ``{"markdown", "html", "figures"}``.
    """
    out = Path(out)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    for section in document.sections:
        missing = [f for f in section.figures if not Path(f.path).is_file()]
        if missing:
            section.figures = [f for f in section.figures if f not in missing]
            section.paragraphs.append("Figures not produced by this run: "
                                      + ", ".join(f"`{Path(f.path).name}`" for f in missing) + ".")
    names = _figure_names(document)
    for section in document.sections:
        for figure in section.figures:
            shutil.copyfile(figure.path, figures_dir / names[id(figure)])
    markdown = write_text_atomic(out / "report.md", render_markdown(document, names))
    page = write_text_atomic(out / "report.html", render_html(document, names))
    return {"markdown": markdown, "html": page, "figures": figures_dir}
