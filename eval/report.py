"""An Evaluation -> results.json, questions.jsonl, report.html and a terminal table."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from eval.evaluate import Evaluation
from eval.metrics import percentile, reliability
from eval.models import METRIC_KEYS, Results
from eval.scoring import QuestionScore

__all__ = ["format_table", "write_outputs"]

# Okabe-Ito: told apart with any colour vision; each system also has its own marker and
# dash, so curves that coincide (bm25 and papertrail at hit@10, say) both stay visible.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_MARKERS = ("circle", "square", "triangle", "diamond", "cross", "down", "plus")
_DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")
_DECIMALS = {"ms": 1, "per_s": 1, "mb": 0}
_LOWER_IS_BETTER = (
    "false_abstention_rate",
    "latency_",
    "retrieval_latency_",
    "peak_rss_mb",
    "ttft_",
)
# Fewer questions than this and one question moves a share by more than 1/30: the report
# says its figures cannot separate the systems (the seed set has 27).
_SMALL_RUN = 30
_DEFINITIONS = {
    "hit@k": "share of answerable questions with a passage holding gold evidence in the top k",
    "mrr@10": "mean of 1 / rank of the first relevant passage (0 if none in the top 10)",
    "ndcg@10": "DCG / ideal DCG over the top 10, binary gains; rewards finding every chunk "
    "that holds the evidence",
    "answer_contains": "share of answers containing a reference answer as whole words",
    "lead_contains": "share of answers whose first cited sentence contains a reference answer",
    "token_f1": "best token F1 of the answer against a reference (SQuAD normalisation)",
    "token_recall": "best share of a reference's tokens that the answer holds",
    "semantic_similarity": "best cosine between the answer's and a reference's embedding",
    "citation_precision": "share of cited passages that hold gold evidence",
    "citation_recall": "share of answerable questions citing a passage with gold evidence",
    "quote_fidelity": "share of quotes found verbatim at their stated offsets",
    "abstention_accuracy": "share of unanswerable questions the system abstained on",
    "false_abstention_rate": "share of answerable questions the system abstained on (lower is "
    "better)",
    "latency": "wall time of one full answer (or of retrieval alone), warm, one at a time "
    "(lower is better)",
    "ingest": "chunks or characters indexed per second of ingestion, from an empty index",
    "peak_rss_mb": "peak resident memory of the system's process (lower is better)",
    "faithfulness": "share of answer sentences rag.verify finds supported by what they cite",
    "alce_citation_precision": "share of citations that support their sentence alone, or "
    "without which the others do not (ALCE, with rag.verify as the judge)",
    "alce_citation_recall": "mean over answers of the share of sentences fully supported by "
    "their citations; an uncited sentence counts 0 (ALCE, rag.verify as the judge)",
    "ttft": "time to the first generated text; a system that does not stream: the whole "
    "answer (lower is better)",
}


def write_outputs(evaluation: Evaluation, out: Path) -> None:
    """results.json (the documented schema), questions.jsonl and report.html in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    results = evaluation.results
    data = _rounded(results.model_dump(mode="json", by_alias=True))
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for system, rows in evaluation.rows.items():
            for row in rows:
                f.write(json.dumps({"system": system, **row.model_dump(mode="json")}) + "\n")
    (out / "report.html").write_text(_html(evaluation), encoding="utf-8")


def _rounded(value: Any) -> Any:
    """Floats to 4 decimals, recursively, so results.json stays readable."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def format_table(results: Results) -> str:
    """Metrics as rows, systems as columns; a baseline's cell adds its ratio to the reference."""
    names = list(results.systems)
    ref = _reference(results)
    header = ["metric", *names]
    lines = [header]
    for key in METRIC_KEYS:
        lines.append([key, *(_cell(results, name, ref, key) for name in names)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(_pad(row, widths)) for row in lines]
    title = (
        f"{results.dataset} ({results.split}): {results.n_questions} questions, "
        f"{results.n_unanswerable} unanswerable, {results.n_documents} documents, "
        f"{results.n_chunks} chunks; (x.xx×) = value relative to {ref}"
    )
    note = _small_run_note(results)
    return "\n".join([title, "", *text, *(["", note] if note else [])])


def _small_run_note(results: Results) -> str:
    n = results.n_questions
    if n >= _SMALL_RUN:
        return ""
    margin = 1.96 * math.sqrt(0.25 / max(n, 1))
    return (
        f"Only {n} question{'' if n == 1 else 's'}: one question moves a share by "
        f"{1 / max(n, 1):.2f}, and the 95% "
        f"margin of a share is up to ±{margin:.2f}, so these figures cannot separate the "
        "systems. Run covid-qa or pubmedqa to compare them."
    )


def _pad(row: list[str], widths: list[int]) -> list[str]:
    return [
        v.ljust(w) if i == 0 else v.rjust(w)
        for i, (v, w) in enumerate(zip(row, widths, strict=True))
    ]


def _reference(results: Results) -> str:
    return "papertrail" if "papertrail" in results.systems else next(iter(results.systems))


def _value(results: Results, name: str, key: str) -> float | None:
    return results.systems[name].model_dump(by_alias=True)[key]


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    decimals = next((d for suffix, d in _DECIMALS.items() if key.endswith(suffix)), 3)
    return f"{value:.{decimals}f}"


def _cell(results: Results, name: str, ref: str, key: str) -> str:
    value, base = _value(results, name, key), _value(results, ref, key)
    text = _fmt(key, value)
    if name != ref and value is not None and base:
        text += f" ({value / base:.2f}×)"
    return text


# -- HTML ------------------------------------------------------------------------------------
def _html(evaluation: Evaluation) -> str:
    results = evaluation.results
    title = f"PaperTrail evaluation: {results.dataset} ({results.split})"
    note = _small_run_note(results)
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='note' role='note'>{escape(note)}</p>" if note else "",
        _metric_table(results),
        "<h2>hit@k</h2>",
        _hit_plot(results),
        "<h2>Full-answer latency</h2>",
        _latency_plot(evaluation.latencies),
        "<p>Log scale; box p25–p75, bar at the median, whiskers p5–p95. Warm, one question "
        "at a time.</p>",
        *_reliability_section(evaluation.rows),
        "<h2>Questions</h2>",
        *(_question_table(name, rows) for name, rows in evaluation.rows.items()),
        _definitions(),
    ]
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _reliability_section(rows_by_system: dict[str, list[QuestionScore]]) -> list[str]:
    """Per system with a support score: the share of questions answerable in each score bin
    (held-out re-asks and unanswerable questions count as not answerable)."""
    parts = []
    for name, rows in rows_by_system.items():
        scored = [r for r in rows if r.evidence_score is not None]
        if not scored:
            continue
        curve = reliability(
            [r.evidence_score or 0.0 for r in scored], [r.answerable for r in scored]
        )
        cells = "".join(
            f"<tr><td>{b['bin']}</td><td>{b['n']}</td><td>{b['mean_score']:.3f}</td>"
            f"<td>{b['answerable']:.3f}</td></tr>"
            for b in curve
        )
        parts += [
            f"<h2>Reliability of the support score: {escape(name)}</h2>",
            "<table><tr><th>score</th><th>questions</th><th>mean score</th>"
            f"<th>share answerable</th></tr>{cells}</table>",
            "<p>A calibrated score matches the share of answerable questions in its bin; "
            "the answer abstains below <code>answer.min_evidence</code>.</p>",
        ]
    return parts


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px;"
    "vertical-align:top;text-align:left}.hit{color:#080}.miss{color:#b00}"
    "pre{background:#f6f6f6;padding:1em;overflow-x:auto}svg{background:#fff;max-width:100%;"
    "height:auto}.wide{overflow-x:auto}.metrics td.num{text-align:right;white-space:nowrap}"
    ".metrics .best{font-weight:700;background:#e6f4ea}.ratio{color:#666;font-size:11px}"
    ".note{background:#fff4e5;border-left:4px solid #E69F00;padding:8px 12px}"
    "@media (max-width:640px){body{margin:0.8em}td,th{font-size:12px;padding:3px}}"
)


def _metric_table(results: Results) -> str:
    """Metrics as rows, systems as columns; the best value per row marked, each metric
    linked to its definition, each baseline with its ratio to the reference."""
    names, ref = list(results.systems), _reference(results)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for key in METRIC_KEYS:
        values = {n: _value(results, n, key) for n in names}
        known = [v for v in values.values() if v is not None]
        low = key.startswith(_LOWER_IS_BETTER)
        best = (min(known) if low else max(known)) if len(known) > 1 else None
        cells = "".join(_metric_cell(key, n, ref, values, best) for n in names)
        link = f"<a href='#def-{_anchor(key)}'>{escape(key)}</a>"
        rows.append(f"<tr><th scope='row'>{link}</th>{cells}</tr>")
    legend = (
        f"<p>Best value per row in <b>bold</b>; (x.xx×) is a system's value relative to "
        f"{escape(ref)}.</p>"
    )
    return (
        f"{legend}<div class='wide'><table class='metrics'><thead><tr><th>metric</th>{head}"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _metric_cell(
    key: str, name: str, ref: str, values: dict[str, float | None], best: float | None
) -> str:
    value, base = values[name], values[ref]
    ratio = ""
    if name != ref and value is not None and base:
        ratio = f" <span class='ratio'>({value / base:.2f}×)</span>"
    is_best = best is not None and value is not None and math.isclose(value, best)
    cls = "num best" if is_best else "num"
    mark = " <span aria-label='best'>★</span>" if is_best else ""
    return f"<td class='{cls}'>{_fmt(key, value)}{mark}{ratio}</td>"


def _anchor(key: str) -> str:
    """The definition a metric key links to (hit@1..hit@10 share one)."""
    if key.startswith("hit@"):
        return "hit-k"
    if "latency" in key:
        return "latency"
    if key.startswith("ingest_"):
        return "ingest"
    if key.startswith("ttft_"):
        return "ttft"
    return key.replace("@", "-")


def _definitions() -> str:
    items = "".join(
        f"<dt id='def-{name.replace('@', '-')}'>{escape(name)}</dt><dd>{escape(text)}</dd>"
        for name, text in _DEFINITIONS.items()
    )
    return (
        "<h2>Metric definitions</h2><dl>" + items + "</dl><p>Formulas: docs/evaluation.md, "
        "section Metrics.</p>"
    )


def _hit_plot(results: Results, width: int = 520, height: int = 300) -> str:
    left, top, right, bottom = 50, 20, 150, 40
    pw, ph = width - left - right, height - top - bottom

    def xy(k: int, v: float) -> str:
        return f"{left + (k - 1) * pw / 9:.1f},{top + ph * (1 - v):.1f}"

    out = [_frame(width, height, left, top, pw, ph, "k", "hit@k")]
    out += [
        f"<text x='{left + (k - 1) * pw / 9:.1f}' y='{top + ph + 15}' font-size='11' "
        f"text-anchor='middle'>{k}</text>"
        for k in range(1, 11)
    ]
    out += [
        f"<text x='{left - 6}' y='{top + ph * (1 - v) + 4:.1f}' font-size='11' "
        f"text-anchor='end'>{v:g}</text>"
        for v in (0, 0.25, 0.5, 0.75, 1.0)
    ]
    for i, (name, m) in enumerate(results.systems.items()):
        colour, dash = _COLOURS[i % len(_COLOURS)], _DASHES[i % len(_DASHES)]
        if m.hit_curve:
            points = " ".join(xy(k, v) for k, v in enumerate(m.hit_curve, start=1))
            out.append(
                f"<polyline fill='none' stroke='{colour}' stroke-width='2' "
                f"stroke-dasharray='{dash}' points='{points}'/>"
            )
            for k, v in enumerate(m.hit_curve, start=1):
                x, y = (float(c) for c in xy(k, v).split(","))
                out.append(_marker(i, x, y, colour))
        out.append(_legend(i, name, colour, left + pw + 10, top))
    return "".join(out) + "</svg>"


def _marker(i: int, x: float, y: float, colour: str) -> str:
    """Hollow, and larger for later systems, so markers on the same point nest visibly."""
    r = 3.5 + 1.2 * i
    shape = _MARKERS[i % len(_MARKERS)]
    style = f"fill='none' stroke='{colour}' stroke-width='1.6'"
    if shape == "circle":
        return f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r:.1f}' {style}/>"
    if shape == "square":
        side = f"width='{2 * r:.1f}' height='{2 * r:.1f}'"
        return f"<rect x='{x - r:.1f}' y='{y - r:.1f}' {side} {style}/>"
    corners = {
        "triangle": [(0, -r), (r, r), (-r, r)],
        "down": [(0, r), (r, -r), (-r, -r)],
        "diamond": [(0, -r), (r, 0), (0, r), (-r, 0)],
    }
    if shape in corners:
        pts = " ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in corners[shape])
        return f"<polygon points='{pts}' {style}/>"
    d = r if shape == "plus" else r * 0.7
    a, b = ((0, d), (d, 0)) if shape == "plus" else ((d, d), (d, -d))
    return (
        f"<path d='M{x - a[0]:.1f},{y - a[1]:.1f}L{x + a[0]:.1f},{y + a[1]:.1f}"
        f"M{x - b[0]:.1f},{y - b[1]:.1f}L{x + b[0]:.1f},{y + b[1]:.1f}' {style}/>"
    )


def _latency_plot(latencies: dict[str, list[float]], width: int = 620) -> str:
    """Box plots on a log scale: whiskers p5-p95, box p25-p75, bar at the median."""
    rows = {k: v for k, v in latencies.items() if v}
    height = 40 + 30 * max(len(rows), 1)
    if not rows:
        return f"<svg width='{width}' height='{height}'></svg>"
    left, top, pw = 130, 10, width - 160
    lo = math.floor(math.log10(max(min(min(v) for v in rows.values()), 0.01)))
    hi = math.ceil(math.log10(max(max(v) for v in rows.values()))) or lo + 1
    hi = max(hi, lo + 1)

    def x(ms: float) -> float:
        return left + pw * (math.log10(max(ms, 10**lo)) - lo) / (hi - lo)

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"]
    for e in range(lo, hi + 1):
        out.append(
            f"<line x1='{x(10**e):.1f}' x2='{x(10**e):.1f}' y1='{top}' y2='{height - 25}' "
            f"stroke='#ddd'/><text x='{x(10**e):.1f}' y='{height - 10}' font-size='11' "
            f"text-anchor='middle'>{_ms_label(10**e)}</text>"
        )
    for i, (name, values) in enumerate(rows.items()):
        colour, y = _COLOURS[i % len(_COLOURS)], top + 30 * i + 15
        p = {q: x(percentile(values, q) or 0) for q in (5, 25, 50, 75, 95)}
        out.append(
            f"<text x='{left - 8}' y='{y + 4}' font-size='12' text-anchor='end'>"
            f"{escape(name)}</text>"
            f"<line x1='{p[5]:.1f}' x2='{p[95]:.1f}' y1='{y}' y2='{y}' stroke='{colour}'/>"
            f"<rect x='{p[25]:.1f}' y='{y - 8}' width='{max(p[75] - p[25], 1):.1f}' height='16' "
            f"fill='{colour}' fill-opacity='0.3' stroke='{colour}'/>"
            f"<line x1='{p[50]:.1f}' x2='{p[50]:.1f}' y1='{y - 8}' y2='{y + 8}' stroke='{colour}' "
            "stroke-width='3'/>"
        )
    return "".join(out) + "</svg>"


def _ms_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def _frame(width: int, height: int, left: int, top: int, pw: int, ph: int, xl: str, yl: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
        f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"
        f"<text x='{left + pw / 2}' y='{height - 5}' font-size='12' "
        f"text-anchor='middle'>{xl}</text>"
        f"<text x='12' y='{top + ph / 2}' font-size='12' transform='rotate(-90 12 {top + ph / 2})' "
        f"text-anchor='middle'>{yl}</text>"
    )


def _legend(i: int, name: str, colour: str, x: int, y: int) -> str:
    y += 18 * i
    dash = _DASHES[i % len(_DASHES)]
    return (
        f"<line x1='{x}' x2='{x + 18}' y1='{y + 6}' y2='{y + 6}' stroke='{colour}' "
        f"stroke-width='2' stroke-dasharray='{dash}'/>{_marker(i, x + 9, y + 6, colour)}"
        f"<text x='{x + 26}' y='{y + 10}' font-size='12'>{escape(name)}</text>"
    )


def _question_table(system: str, rows: list[QuestionScore]) -> str:
    head = (
        "<tr><th>id</th><th>question</th><th>answer</th><th>citations</th>"
        "<th>first relevant rank</th><th>token F1</th><th>ms</th></tr>"
    )
    body = "".join(_question_row(r) for r in rows)
    return (
        f"<details><summary>{escape(system)}: {len(rows)} questions</summary>"
        f"<table>{head}{body}</table></details>"
    )


def _question_row(r: QuestionScore) -> str:
    tag = "" if r.answerable else " <em>(unanswerable)</em>"
    answer = "<em>abstained</em>" if r.abstained else escape(_short(r.answer, 600))
    cites = "<br>".join(_citation(c.n, c.doc_id, c.quote, c.gold, c.verbatim) for c in r.citations)
    f1 = "" if r.token_f1 is None else f"{r.token_f1:.2f}"
    return (
        f"<tr><td>{escape(r.id)}{escape(' ' + r.phase if r.phase != 'main' else '')}</td>"
        f"<td>{escape(r.question)}{tag}</td><td>{answer}</td><td>{cites or '–'}</td>"
        f"<td>{r.first_hit or '–'}</td><td>{f1}</td><td>{r.answer_ms:.0f}</td></tr>"
    )


def _citation(n: int, doc_id: str | None, quote: str, gold: bool | None, verbatim: bool) -> str:
    mark = {True: "<span class='hit'>✓ gold</span>", False: "<span class='miss'>✗</span>"}
    flag = mark.get(gold, "") if gold is not None else ""
    exact = "" if verbatim else " <span class='miss'>(quote not verbatim)</span>"
    return f"[{n}] {flag} <b>{escape(doc_id or '?')}</b>: “{escape(_short(quote, 240))}”{exact}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
