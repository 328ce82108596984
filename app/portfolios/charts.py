"""Server-side SVG charts (pygal), embedded inline: no CDN, no JavaScript.

Every chart is drawn from figures that are already aggregated (by month, category,
country, risk class, SDG), so its cost does not grow with the number of holdings. The
page shows the same figures in tables next to each chart for screen readers.
"""

import re
import sys
from decimal import Decimal

import pygal
from flask_babel import gettext as _
from markupsafe import Markup
from pygal.style import Style

from app.core.money import minor_digits
from app.portfolios.labels import category_label, key_label
from app.portfolios.services import CurrencySummary, Impact, Month

# pygal appends a legacy import hook (``find_module`` only) to sys.meta_path for its map
# plugins; on Python 3.11 every failed optional import then raises ImportWarning, an
# error under the test suite's warnings-as-errors. We use no map plugins.
sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)]

#: Brand green, a blue, amber and greys: distinguishable with the common colour blindnesses.
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#59636e",
    colors=("#1f6f43", "#1d4f91", "#b35c00", "#7a3e9d", "#5c6b73", "#2a9d8f", "#a4161a", "#8d6e00", "#264653"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    tooltip_font_size=12,
)

BASE = {"js": [], "disable_xml_declaration": True, "style": STYLE, "explicit_size": False,
        "legend_at_bottom": True, "margin": 8}


def _major(amount: int, currency: str) -> float:
    return float(Decimal(amount).scaleb(-minor_digits(currency)))


#: pygal writes an inline <script> with its tooltip configuration into every chart, even
#: with ``js=[]``; the charts are static, so it goes.
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)


def _svg(chart: pygal.graph.graph.Graph) -> Markup:
    svg = SCRIPT.sub("", chart.render(is_unicode=True))
    return Markup(svg)  # noqa: S704  # nosec B704  # pygal escapes the text it draws; scripts are stripped


def _money_formatter(currency: str):
    return lambda value: f"{value:,.0f} {currency}" if value is not None else ""


def cash_flows(months: list[Month], currency: str) -> Markup | None:
    """Invested, received and expected money per month (invested below the axis)."""
    if not months:
        return None
    chart = pygal.Bar(**BASE, height=320, width=900, x_label_rotation=45, show_minor_x_labels=False,
                      x_labels_major_every=max(1, len(months) // 12), truncate_label=-1,
                      value_formatter=_money_formatter(currency), y_title=currency)
    chart.x_labels = [m.month for m in months]
    for attribute, name in (("invested", _("Invested")), ("received", _("Received")), ("expected", _("Expected"))):
        chart.add(name, [_major(getattr(m, attribute), currency) or None for m in months])
    return _svg(chart)


def allocation(summary: CurrencySummary, dimension: str) -> Markup | None:
    """One allocation (by_category, by_country, by_risk_class as a donut; by_sdg as bars)."""
    slices = summary.allocation.get(dimension) or []
    if not slices:
        return None
    currency = summary.currency
    if dimension == "by_sdg":
        chart = pygal.Bar(**BASE, height=300, width=560, show_legend=False,
                          value_formatter=_money_formatter(currency), y_title=currency)
        chart.x_labels = [f"SDG {s.key}" for s in slices]
        chart.add(_("Invested"), [_major(s.amount, currency) for s in slices])
        return _svg(chart)
    chart = pygal.Pie(**{**BASE, "legend_at_bottom": False}, height=260, width=620, inner_radius=0.45,
                      truncate_legend=-1, value_formatter=_money_formatter(currency))
    for s in slices:
        chart.add(f"{key_label(dimension, s.key)} ({s.share_bps / 100:.1f} %)", _major(s.amount, currency))
    return _svg(chart)


def impact(value: Impact) -> Markup | None:
    """Attributable CO₂ (tonnes a year) and energy (MWh a year) by category."""
    if not value.by_category:
        return None
    categories = sorted(value.by_category, key=lambda k: -value.by_category[k][0])
    chart = pygal.HorizontalBar(**BASE, height=120 + 44 * len(categories), width=900, truncate_legend=-1,
                                value_formatter=lambda v: f"{v:,.1f}")
    chart.x_labels = [category_label(c) for c in categories]
    chart.add(_("CO₂ avoided, tonnes a year"), [round(value.by_category[c][0], 2) for c in categories])
    chart.add(_("Energy saved or produced, MWh a year"), [round(value.by_category[c][1], 2) for c in categories])
    return _svg(chart)
