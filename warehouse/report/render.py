"""One pack as a self-contained HTML page (charts inline SVG, no external resource) and the
same page as an A4 PDF (WeasyPrint)."""

from __future__ import annotations

from typing import BinaryIO

from jinja2 import Environment, select_autoescape

from warehouse.report.model import Section

CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm;
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 7pt; } }
html { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; color: #1a1a1a; }
body { margin: 0 auto; max-width: 180mm; padding: 0 2mm; }
h1 { font-size: 16pt; margin: 0 0 2mm; color: #1f4e79; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; color: #1f4e79; border-bottom: 1px solid #1f4e79;
  break-after: avoid; }
p { margin: 1mm 0; overflow-wrap: anywhere; }
p.note { color: #555; font-style: italic; }
figure.chart { margin: 3mm 0; break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 8pt; color: #333; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: 2mm 0 4mm;
  font-size: 7pt; }
th, td { border: 1px solid #ccc; padding: 0.6mm 1mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #eef3f8; }
caption { text-align: left; font-weight: bold; padding-bottom: 1mm; }
section.methods { break-before: page; }
/* a heading never ends a page alone: it opens a block with the section's first chart */
div.opening { break-inside: avoid; }
.meta { color: #555; font-size: 8pt; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>JSNA pack: {{ la_name }} {{ fy }}</title>
<style>{{ css }}</style></head>
<body>
<header><h1>Offender needs assessment: {{ la_name }}, {{ fy }}</h1>
<p class="meta">Joint strategic needs analysis pack for the {{ la_name }} community safety
partnership ({{ la_code }}), compared with Greater Manchester. Official - aggregate statistics
under disclosure control.</p></header>
{% for s in sections %}
<section class="{{ s.key }}" id="{{ s.key }}"><div class="opening"><h2>{{ s.title }}</h2>
{% for line in s.sentences %}<p>{{ line }}</p>{% endfor %}
{% for line in s.notes %}<p class="note">{{ line }}</p>{% endfor %}
{% for c in s.charts %}{% if loop.index0 == 1 %}</div>{% endif %}<figure class="chart" id="chart-{{ c.name }}" data-chart="{{ c.name }}"
 role="img" aria-label="{{ c.alt }}">{{ c.svg | safe }}
<figcaption>{{ c.title }}</figcaption></figure>{% endfor %}
{% if s.charts | length < 2 %}</div>{% endif %}
{% for t in s.tables %}<table><caption>{{ t.caption }}</caption>
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for v in row %}<td{% if loop.index0 in t.counts %}
 class="count"{% endif %}>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endfor %}
</section>
{% endfor %}
</body></html>
"""


def html_page(la_code: str, la_name: str, fy: str, sections: list[Section]) -> str:
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True)
    return env.from_string(TEMPLATE).render(
        css=CSS, la_code=la_code, la_name=la_name, fy=fy, sections=sections
    )


def write_pdf(html: str, target: BinaryIO) -> None:
    from weasyprint import HTML

    HTML(string=html, base_url=None).write_pdf(target)
