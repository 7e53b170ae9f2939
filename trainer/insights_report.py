"""index.html of `python -m trainer insights`: one self-contained page (inline SVG charts
drawn by matplotlib, inline CSS, no script, no external request) that shows exactly the
figures of insights.json.

Headings are English; situations are shown by their ID and Japanese label, so that the
charts need Japanese and Chinese glyphs. The font is set explicitly to Noto Sans CJK
(Debian's fonts-noto-cjk); a glyph the font lacks is an error, not a silent box.
"""

from __future__ import annotations

import html
import io
import warnings
from pathlib import Path
from typing import Any

CJK_FONT = "Noto Sans CJK JP"  # pan-CJK: also every simplified Chinese character
LANGUAGE_NAMES = {"ja": "日本語 (ja)", "zh": "中文 (zh)"}
COLORS = {"resolved": "#2e7d32", "handed_off": "#1565c0", "out_of_scope": "#8e8e8e",
          "misunderstood": "#ef6c00", "abandoned": "#c62828", "open": "#bdbdbd",
          "conversations": "#455a64"}


class MissingGlyph(RuntimeError):
    """The chart font lacks a character of a label."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = font_manager.FontProperties(family=CJK_FONT)
    try:
        font_manager.findfont(cjk, fallback_to_default=False)
    except ValueError:
        # matplotlib lists fonts from a cache built on first import: fonts installed
        # after that are missing from it until they are added by hand.
        for path in font_manager.findSystemFonts():
            if Path(path).name.startswith("NotoSansCJK"):
                font_manager.fontManager.addfont(path)
        try:
            font_manager.findfont(cjk, fallback_to_default=False)
        except ValueError as error:
            raise MissingGlyph(f"Font {CJK_FONT!r} not found: install fonts-noto-cjk") from error
    plt.rcParams.update({"font.family": [CJK_FONT], "svg.fonttype": "path",
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _integers() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def svg(fig: Any) -> str:
    """The figure as inline SVG; matplotlib's "Glyph … missing" warning raises."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from current font" in str(w.message)]
    if missing:
        raise MissingGlyph("; ".join(sorted(set(missing))))
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # without the XML prolog and doctype


def _labels(root: Path) -> dict[str, str]:
    import yaml

    labels = yaml.safe_load((root / "actions" / "content" / "labels.yml").read_text("utf-8"))
    return {key: value.get("ja", key) for key, value in (labels.get("diagnoses") or {}).items()}


def _situation(key: str, labels: dict[str, str]) -> str:
    label = labels.get(key)
    short = label if label is None or len(label) <= 22 else label[:21] + "…"
    return f"{key}\n{short}" if short else key


def chart_per_diagnosis(data: dict[str, Any], labels: dict[str, str]) -> str:
    plt = _pyplot()
    keys = list(data["by_diagnosis"])[::-1]
    languages = list(data["by_language"])
    per_language = data.get("diagnosis_by_language") or {}
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(keys) + 1.2))
    left = [0] * len(keys)
    for index, language in enumerate(languages):
        counts = [per_language.get(key, {}).get(language, 0) for key in keys]
        ax.barh([_situation(k, labels) for k in keys], counts, left=left,
                label=LANGUAGE_NAMES.get(language, language), color=f"C{index}")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("conversations")
    ax.xaxis.set_major_locator(_integers())
    ax.set_title("Conversations per situation and language")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    return svg(fig)


def chart_rates(data: dict[str, Any], labels: dict[str, str]) -> str:
    plt = _pyplot()
    keys = list(data["by_diagnosis"])[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(keys) + 1.2))
    positions = range(len(keys))
    for offset, outcome in ((-0.2, "resolved"), (0.2, "handed_off")):
        rates = [100 * data["by_diagnosis"][k][outcome] / data["by_diagnosis"][k]["conversations"]
                 for k in keys]
        ax.barh([p + offset for p in positions], rates, height=0.4, color=COLORS[outcome],
                label=f"{outcome.replace('_', ' ')} %")
    ax.set_yticks(list(positions), [_situation(k, labels) for k in keys], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the situation's conversations")
    ax.set_title("Resolution and hand-off rate per situation")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return svg(fig)


def chart_funnels(data: dict[str, Any]) -> str:
    plt = _pyplot()
    funnels = data["funnels"]
    fig, axes = plt.subplots(len(funnels), 1, figsize=(8, 2.2 * len(funnels)), squeeze=False)
    for ax, (guide, funnel) in zip(axes[:, 0], funnels.items(), strict=True):
        names = [f"{s['step']}. {s['id']}" for s in funnel["steps"]] + ["finished"]
        values = [s["reached"] for s in funnel["steps"]] + [funnel["finished"]]
        ax.barh(names[::-1], values[::-1], color=["#2e7d32"] + ["#546e7a"] * len(funnel["steps"]))
        ax.set_title(f"Guide {guide}: conversations that reached each step", fontsize=10)
        ax.xaxis.set_major_locator(_integers())
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return svg(fig)


def chart_trend(data: dict[str, Any]) -> str:
    plt = _pyplot()
    days = [d["date"] for d in data["per_day"]]
    fig, ax = plt.subplots(figsize=(8, 3))
    for key in ("conversations", "resolved", "handed_off", "abandoned"):
        ax.plot(days, [d[key] for d in data["per_day"]], marker="o", label=key.replace("_", " "),
                color=COLORS[key])
    ax.set_title(f"Trend per day ({data['tz']})")
    ax.yaxis.set_major_locator(_integers())
    ax.legend()
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return svg(fig)


COLUMNS = ("conversations", "resolved", "handed_off", "out_of_scope", "misunderstood",
           "abandoned", "open", "fallbacks", "feedback_yes", "feedback_no", "median_turns")


def _table(title: str, kind: str, rows: dict[str, dict[str, Any]],
           names: dict[str, str]) -> str:
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr data-{kind}="{html.escape(key)}"><th>{html.escape(names.get(key, key))}</th>'
        + "".join(f'<td data-field="{c}">{_number(row[c])}</td>' for c in COLUMNS) + "</tr>"
        for key, row in rows.items())
    return (f"<h2>{title}</h2><table><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


STYLE = """
body{font-family:"Noto Sans CJK JP","Noto Sans CJK SC",sans-serif;margin:2em auto;max-width:1100px;
 color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px}
td{text-align:right}thead th{background:#eceff1}tbody th{text-align:left;font-weight:normal}
.totals{display:flex;flex-wrap:wrap;gap:12px}
.totals div{border:1px solid #ccc;padding:8px 14px;border-radius:6px}
.totals b{display:block;font-size:22px}figure{margin:1.5em 0}svg{max-width:100%;height:auto}
.meta{color:#666;font-size:13px}
"""
# Nothing may load: the page is opened from disk or a mail attachment, offline.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_html(data: dict[str, Any], root: Path) -> str:
    labels = _labels(root)
    names = {key: f"{key} — {labels[key]}" if key in labels else key for key in data["by_diagnosis"]}
    totals = data["totals"]
    cards = "".join(f'<div data-total="{k}"><b>{_number(totals[k])}</b>{k.replace("_", " ")}</div>'
                    for k in COLUMNS)
    charts = [("per-diagnosis", chart_per_diagnosis(data, labels)),
              ("rates", chart_rates(data, labels))] if data["by_diagnosis"] else []
    if data["funnels"]:
        charts.append(("funnels", chart_funnels(data)))
    if data["per_day"]:
        charts.append(("trend", chart_trend(data)))
    figures = "".join(f'<figure data-chart="{name}">{image}</figure>' for name, image in charts)
    messages = "".join(
        f'<tr><td>{m["count"]}</td><td>{m["language"]}</td><th>{html.escape(m["text"])}</th></tr>'
        for m in data["misunderstood_messages"])
    funnel_rows = "".join(
        f'<tr data-guide="{html.escape(guide)}"><th>{html.escape(guide)}</th>'
        f'<td data-field="started">{f["started"]}</td>'
        + "".join(f'<td data-step="{s["step"]}">{s["reached"]} ({s["abandoned_here"]})</td>'
                  for s in f["steps"])
        + f'<td data-field="finished">{f["finished"]}</td></tr>'
        for guide, f in data["funnels"].items())
    width = max((len(f["steps"]) for f in data["funnels"].values()), default=1)
    period = f"{data['since'] or 'the first conversation'} – {data['until'] or 'now'}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Support insights</title><style>{STYLE}</style></head><body>
<h1>Support insights</h1>
<p class="meta">Conversations started {html.escape(period)} ({html.escape(data['tz'])});
abandoned after {_number(data['abandon_after_minutes'])} min without a partner message;
figures as of {html.escape(data['now'])}; one outcome per conversation, in this precedence:
{', '.join(data['outcome_precedence'])}
(definitions: docs/insights.md). Generated {html.escape(data['generated_at'])}.</p>
<div class="totals">{cards}</div>
{figures}
{_table("Per situation", "diagnosis", data["by_diagnosis"], names)}
{_table("Per language", "language", data["by_language"], LANGUAGE_NAMES)}
<h2>Guide funnels</h2><table><thead><tr><th>guide</th><th>started</th>
<th colspan="{width}">reached step n (abandoned there)</th><th>finished</th></tr></thead>
<tbody>{funnel_rows}</tbody></table>
<h2>Most frequent misunderstood messages</h2><table><thead><tr><th>count</th><th>language</th>
<th>message (IDs masked)</th></tr></thead>
<tbody>{messages}</tbody></table>
</body></html>
"""
