"""Charts drawn on the server as inline SVG: no script, no CDN, nothing for the CSP to allow.
Every chart has a ``<title>`` per mark for hover, ``role="img"`` with a label, and the page
shows the same numbers as a table beside it (the text alternative). Labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ACCENT = "#2f5bd3"
ERROR = "#c62828"
GRID = "#e2e5ea"
RATING_COLOURS = {"good": "#16a34a", "needs-improvement": "#d97706", "poor": "#dc2626"}


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def column_chart(labels: Sequence[str], values: Sequence[int], overlay: Sequence[int] | None = None,
                 *, title: str, value_name: str, overlay_name: str = "errors",
                 height: int = 160) -> Markup:
    """Columns (one per bucket) with an optional overlay drawn as red markers on its own
    scale; scales to its container's width (viewBox)."""
    count = max(1, len(values))
    width = max(300, count * 12)
    top = max(values, default=0) or 1
    overlay_top = max(overlay or [0], default=0) or 1
    slot = width / count
    bar = max(1.0, slot * 0.7)
    plot = height - 2
    parts = [
        f'<svg class="chart chart-columns" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(title)}">',
        f'<line x1="0" y1="{plot}" x2="{width}" y2="{plot}" stroke="{GRID}"/>',
    ]
    for i, value in enumerate(values):
        h = plot * value / top
        x = i * slot + (slot - bar) / 2
        label = labels[i] if i < len(labels) else ""
        tip = f"{label}: {value} {value_name}"
        if overlay is not None and i < len(overlay):
            tip += f", {overlay[i]} {overlay_name}"
        parts.append(f'<rect x="{_n(x)}" y="{_n(plot - h)}" width="{_n(bar)}" '
                     f'height="{_n(max(h, 0.5 if value else 0))}" fill="{ACCENT}">'
                     f"<title>{escape(tip)}</title></rect>")
    if overlay is not None:
        for i, value in enumerate(overlay):
            if not value:
                continue
            cx = i * slot + slot / 2
            cy = plot - (plot - 6) * value / overlay_top
            parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="3" fill="{ERROR}">'
                         f"<title>{escape(labels[i] if i < len(labels) else '')}: "
                         f"{value} {escape(overlay_name)}</title></circle>")
    parts.append("</svg>")
    if labels:  # outside the SVG: its stretched viewBox would distort text
        parts.append(f'<div class="chart-axis"><span>{escape(labels[0])}</span>'
                     f"<span>{escape(labels[-1])}</span></div>")
    return Markup("".join(parts))


def sparkline(values: Sequence[int], *, title: str, width: int = 120, height: int = 24) -> Markup:
    if not values:
        return Markup("")
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{_n(i * step)},{_n(height - 2 - (height - 4) * v / top)}"
                      for i, v in enumerate(values))
    return Markup(
        f'<svg class="chart sparkline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
        f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>'
        "</svg>"
    )


def share_bar(parts: Sequence[tuple[str, int]], *, title: str, colours: dict[str, str]
              | None = None) -> Markup:
    """One stacked bar of shares (a rating mix, a distribution)."""
    total = sum(n for _, n in parts)
    if not total:
        return Markup("")
    colours = colours or {}
    palette = (ACCENT, "#7a9cf0", "#b7c8f6", "#d97706", "#16a34a", "#8b5cf6")
    x = 0.0
    out = [f'<svg class="chart share-bar" viewBox="0 0 100 8" preserveAspectRatio="none" '
           f'role="img" aria-label="{escape(title)}">']
    for i, (label, n) in enumerate(parts):
        if not n:
            continue
        w = 100 * n / total
        colour = colours.get(label, palette[i % len(palette)])
        out.append(f'<rect x="{_n(x)}" y="0" width="{_n(w)}" height="8" fill="{colour}">'
                   f"<title>{escape(label)}: {n} ({_n(w)}%)</title></rect>")
        x += w
    out.append("</svg>")
    return Markup("".join(out))


def fold_lines(folds: Sequence[tuple[int, float | None]], *, avg: float | None, title: str,
               width: int = 120, height: int = 220) -> Markup:
    """A page drawn as a tall box with a line at each fold (``(p, depth %)``): the share of
    the page p% of the views reached at most; the average as a dashed line."""
    parts = [f'<svg class="chart fold-lines" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">',
             f'<rect x="1" y="1" width="{width - 2}" height="{height - 2}" fill="#f6f7f9" '
             f'stroke="{GRID}"/>']
    merged: dict[float, list[int]] = {}  # equal depths: one line, one label "p50/p75 …"
    for p, depth in folds:
        if depth is not None:
            merged.setdefault(depth, []).append(p)
    label_y = -99.0
    for depth, ps in sorted(merged.items()):
        y = 1 + (height - 2) * depth / 100
        name = "/".join(f"p{p}" for p in ps)
        label_y = max(max(10, y - 3), label_y + 11)  # close folds: labels stacked
        label_y = min(label_y, height - 3)
        parts.append(f'<line x1="1" y1="{_n(y)}" x2="{width - 1}" y2="{_n(y)}" '
                     f'stroke="{ACCENT}" stroke-width="2"><title>{name}: {_n(depth)}% of the '
                     f"page</title></line>")
        parts.append(f'<text x="4" y="{_n(label_y)}" font-size="10" fill="{ACCENT}">'
                     f"{name} {_n(depth)}%</text>")
    if avg is not None:
        y = 1 + (height - 2) * avg / 100
        parts.append(f'<line x1="1" y1="{_n(y)}" x2="{width - 1}" y2="{_n(y)}" stroke="{ERROR}" '
                     f'stroke-dasharray="4 3"><title>average: {_n(avg)}%</title></line>')
    parts.append("</svg>")
    return Markup("".join(parts))
