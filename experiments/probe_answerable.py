"""Answerable or a near miss? Index-independent signals from the question's missing terms.

    python -m experiments.probe_answerable [--out eval-out/probe-answerable]
    python -m experiments.probe_answerable --limit 3 --out /tmp/probe  # a smoke run

The support score cannot tell a question in the user's own words ("barriers" where the
text says "challenging") from a near miss that shares the topic's words but asks about
something the text lacks ("... in Italy", "caffeine", "children"). Both miss some of their
terms in the answering document. This probe measures signals that look only at the
question, the answering document's shown passages (their stored sentence vectors) and the
embedding model, not at idf or at which terms other documents hold:

- `word_min` / `word_mean`: each missing term's question word embedded alone, its best
  cosine to the document's candidate sentences; min / mean over the missing terms;
- `word_rel`: `word_min` less the same for the terms present (the scale of a single word
  against a sentence varies by question);
- `phrase_min`: as `word_min` with the word and two neighbours each side;
- `docword_min`: the missing word's best cosine to the document's passage words, each
  embedded alone (cached across questions here; the cost is reported uncached);
- `drop`: best sentence cosine of the question less that of the question with its missing
  words removed (how much the missing words helped the match);
- `plain_coverage`: unweighted share of the question's terms in the document;
- `vocab_coverage`: the same with a missing whole word of the model's WordPiece vocabulary
  counting a quarter (a missing name that the tokenizer splits counts in full);
- `named_missing`: missing terms the tokenizer splits (negated: higher = answerable).

Trust set dev half in its `alone` index (eval/trust.py), then COVID-QA dev (answerable)
against PubMedQA dev with the own abstract removed (not answerable), as eval/calibrate.py
collects them. For each signal: AUC (higher = answerable) and, at the threshold with the
best balance, false and correct abstention. Reads dev splits only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval.datasets import load_eval_set
from eval.trust import _questions, corpora
from index.embedding import _local_model_dir, load_embedder
from index.keyword import QUESTION_WORDS, _stopwords, general_weights, terms
from index.models import Answer
from index.settings import Settings
from rag.answer import _ABOUT_FIGURES, _candidates, _eligible, _score
from rag.engine import Engine

_WORD = re.compile(r"(?u)\b\w\w+\b")
_DATASETS = ("trust-alone", "covid-qa", "pubmedqa", "pubmedqa-heldout")
_WINDOW = 2  # words each side of a missing word in its phrase
SIGNALS = (
    "evidence_score",
    "answer_cosine",
    "answer_coverage_discounted",
    "word_min",
    "word_mean",
    "word_rel",
    "phrase_min",
    "docword_min",
    "docword_top1",
    "docword_top3",
    "docword_top10",
    "sem_coverage",
    "drop",
    "plain_coverage",
    "vocab_coverage",
    "named_missing",
    "cos_plus_word",
    "cos_plus_phrase",
    "cos_plus_vocab",
    "cos_minus_drop",
    "cos_plus_docword",
    "cos_plus_semcov",
)
# Semantic coverage: a missing term counts as present in proportion to its docword match
# between these cosines (a word alone against a word alone).
_MATCH_LO, _MATCH_HI = 0.35, 0.55


def derived(row: dict, lo: float = _MATCH_LO, hi: float = _MATCH_HI) -> dict:
    """Signals computed from the stored per-term details (tunable without re-asking)."""
    if "detail" not in row:
        return row
    n = row["n_terms"]
    credit = sum(min(1.0, max(0.0, (d["docword"] - lo) / (hi - lo))) for d in row["detail"])
    present = n - len(row["detail"])
    row["sem_coverage"] = (present + credit) / n if n else 1.0
    row["cos_plus_docword"] = row["answer_cosine"] + row["docword_min"]
    row["cos_plus_semcov"] = row["answer_cosine"] + row["sem_coverage"]
    return row


def model_vocabulary(model: str) -> frozenset[str]:
    """The whole words of the model's WordPiece vocabulary: a word the tokenizer keeps whole
    is everyday English ("barrier", "dose"); a drug or gene name is split into pieces."""
    path = _local_model_dir(model) / "vocab.txt"
    if not path.is_file():
        return frozenset()
    words = path.read_text(encoding="utf-8").split("\n")
    return frozenset(w for w in words if w.isalpha() and w.islower())


class Probe:
    """The signals for one engine's answers; word vectors cached across questions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.embedder = engine.embedder
        self.vocabulary = model_vocabulary(engine.settings.embed_model)
        self._words: dict[str, np.ndarray] = {}
        self.cost_ms: list[float] = []  # the cheap signals' embedder calls, per question
        self.docword_ms: list[float] = []  # docword_min, as if nothing were cached
        self.docword_cached_ms: list[float] = []  # the same with the cache of word vectors
        self.doc_word_counts: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384))
        return np.asarray(self.embedder.get_text_embedding_batch(list(texts)))

    def words(self, words: Sequence[str]) -> np.ndarray:
        new = [w for w in dict.fromkeys(words) if w not in self._words]
        for w, v in zip(new, self.embed(new), strict=True):
            self._words[w] = v
        return np.array([self._words[w] for w in words]) if words else np.zeros((0, 384))

    def signals(self, question: str, answer: Answer) -> dict[str, float]:
        settings = self.engine.settings.answer
        shown = answer.passages[: settings.passages]
        quotable = set(settings.quote_kinds)
        if _ABOUT_FIGURES.search(question):
            quotable.add("caption")
        quotable_passages = [p for p in shown if p.kind in quotable]
        candidates = _candidates(quotable_passages, self.engine.search.sentences)
        feats = answer.support_features
        out: dict[str, float] = {
            "evidence_score": answer.evidence_score,
            "answer_cosine": feats.get("answer_cosine", 0.0),
            "answer_coverage_discounted": feats.get("answer_coverage_discounted", 0.0),
        }
        if not candidates:
            return out
        # The answering document, as rag.answer._features picks it.
        query = np.asarray(self.embedder.get_query_embedding(question))
        _score(
            candidates,
            quotable_passages,
            query,
            general_weights(question),
            self.engine.search.term_counts,
        )
        pool = _eligible(question, candidates) or candidates
        home = max(pool, key=lambda c: c.score).passage.doc_id
        own = [p for p in shown if p.doc_id == home]
        sentences = np.array([c.vector for c in candidates if c.passage.doc_id == home])
        present_terms: set[str] = set()
        for p in own:
            present_terms.update(terms(p.title))
            present_terms.update(terms(p.text))

        tokens = _WORD.findall(question.lower())
        stop = _stopwords()
        surface: dict[str, tuple[int, str]] = {}  # term -> (token index, word)
        for i, w in enumerate(tokens):
            if w in stop:
                continue
            for t in terms(w):
                if t not in QUESTION_WORDS:
                    surface.setdefault(t, (i, w))
        missing = [t for t in surface if t not in present_terms]
        present = [t for t in surface if t in present_terms]
        out["missing"] = " ".join(surface[t][1] for t in missing)
        out["plain_coverage"] = len(present) / len(surface) if surface else 1.0
        named = [t for t in missing if surface[t][1] not in self.vocabulary]
        whole = len(missing) - len(named)
        out["vocab_coverage"] = (
            len(present) / (len(present) + 0.25 * whole + len(named)) if surface else 1.0
        )
        out["named_missing"] = -float(len(named))

        started = time.perf_counter()
        miss_words = [surface[t][1] for t in missing]
        phrases = [
            " ".join(tokens[max(0, surface[t][0] - _WINDOW) : surface[t][0] + _WINDOW + 1])
            for t in missing
        ]
        drop_set = {surface[t][0] for t in missing}
        minus = " ".join(w for i, w in enumerate(tokens) if i not in drop_set)
        pres_words = [surface[t][1] for t in present]
        vectors = self.embed([*miss_words, *phrases, *pres_words, minus] if missing else [])
        self.cost_ms.append((time.perf_counter() - started) * 1000)
        out["cheap_ms"] = self.cost_ms[-1]
        best_q = float(np.max(sentences @ query))
        if missing:
            n = len(missing)
            word_v, phrase_v = vectors[:n], vectors[n : 2 * n]
            pres_v, minus_v = vectors[2 * n : -1], vectors[-1]
            word_best = np.max(word_v @ sentences.T, axis=1)
            out["word_min"] = float(word_best.min())
            out["word_mean"] = float(word_best.mean())
            base = float(np.mean(np.max(pres_v @ sentences.T, axis=1))) if len(pres_v) else 0.0
            out["word_rel"] = out["word_min"] - base
            out["phrase_min"] = float(np.max(phrase_v @ sentences.T, axis=1).min())
            out["drop"] = best_q - float(np.max(sentences @ minus_v))
            doc_words = sorted(
                {w for p in own for w in _WORD.findall(p.text.lower()) if w not in stop}
            )
            started = time.perf_counter()
            self.embed(doc_words)  # timed uncached (the probe itself reuses the cache)
            self.docword_ms.append((time.perf_counter() - started) * 1000)
            out["docword_ms"] = self.docword_ms[-1]
            out["doc_words"] = len(doc_words)
            out["new_words"] = len([w for w in doc_words if w not in self._words])
            started = time.perf_counter()
            dv = self.words(doc_words)  # as a process-wide cache of word vectors would
            self.docword_cached_ms.append((time.perf_counter() - started) * 1000)
            out["docword_cached_ms"] = self.docword_cached_ms[-1]
            self.doc_word_counts.append(len(doc_words))
            sims = word_v @ dv.T if len(dv) else np.zeros((n, 1))
            out["docword_min"] = float(sims.max(axis=1).min())
            # The words of the best few sentences only (cheaper).
            ranked = sorted(
                (c for c in candidates if c.passage.doc_id == home), key=lambda c: -c.similarity
            )
            for top in (1, 3, 10):
                few = sorted(
                    {
                        w
                        for c in ranked[:top]
                        for w in _WORD.findall(c.sentence.text.lower())
                        if w not in stop
                    }
                )
                fv = self.words(few)
                out[f"docword_top{top}"] = (
                    float((word_v @ fv.T).max(axis=1).min()) if len(fv) else 0.0
                )
            out["detail"] = [
                {
                    "word": surface[t][1],
                    "vocab": surface[t][1] in self.vocabulary,
                    "sentence": float(word_best[j]),
                    "phrase": float(np.max(phrase_v[j] @ sentences.T)),
                    "docword": float(sims[j].max()),
                    "nearest": doc_words[int(sims[j].argmax())] if doc_words else "",
                }
                for j, t in enumerate(missing)
            ]
            out["n_terms"] = len(surface)
        else:  # nothing missing: the best value each signal can take
            out["detail"] = []
            out["n_terms"] = len(surface)
            for k in (
                "word_min",
                "word_mean",
                "phrase_min",
                "docword_min",
                "docword_top1",
                "docword_top3",
                "docword_top10",
            ):
                out[k] = 1.0
            out["word_rel"] = 0.5
            out["drop"] = 0.0
        cos = out["answer_cosine"]
        out["cos_plus_word"] = cos + out["word_min"]
        out["cos_plus_phrase"] = cos + out["phrase_min"]
        out["cos_plus_vocab"] = cos + out["vocab_coverage"]
        out["cos_minus_drop"] = cos + out["drop"]  # drop < 0: the missing words hurt
        return out


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(an answerable question scores above an unanswerable one), ties half."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def best_threshold(pos: Sequence[float], neg: Sequence[float]) -> tuple[float, float, float]:
    """The threshold (abstain below) with the best correct minus false abstention, and both."""
    values = sorted(set(pos) | set(neg))
    cuts = [values[0] - 1e-9] + [(a + b) / 2 for a, b in itertools.pairwise(values)]
    cuts.append(values[-1] + 1e-9)
    best = (-2.0, 0.0, 0.0, 0.0)
    for t in cuts:
        false = float(np.mean([v < t for v in pos]))
        correct = float(np.mean([v < t for v in neg]))
        if correct - false > best[0]:
            best = (correct - false, t, false, correct)
    return best[1], best[2], best[3]


def table(rows: list[dict], title: str) -> str:
    pos_rows = [r for r in rows if r["answerable"]]
    neg_rows = [r for r in rows if not r["answerable"]]
    lines = [f"{title}: {len(pos_rows)} answerable, {len(neg_rows)} not"]
    lines.append(f"{'signal':28}{'AUC':>7}{'thresh':>9}{'false':>7}{'correct':>8}")
    for k in SIGNALS:
        pos = [r[k] for r in pos_rows if k in r]
        neg = [r[k] for r in neg_rows if k in r]
        if not pos or not neg:
            continue
        t, false, correct = best_threshold(pos, neg)
        lines.append(f"{k:28}{auc(pos, neg):7.3f}{t:9.3f}{false:7.3f}{correct:8.3f}")
    return "\n".join(lines)


# Feature sets for a logistic regression as eval.calibrate fits them; "support_logit" is the
# shipped score (evidence_score) on the logit scale.
COMBINED: tuple[tuple[str, ...], ...] = (
    ("support_logit",),
    ("support_logit", "docword_min"),
    ("support_logit", "sem_coverage"),
    ("answer_cosine", "vocab_coverage"),
    ("answer_cosine", "docword_min"),
    ("answer_cosine", "vocab_coverage", "docword_min"),
    ("answer_cosine", "answer_coverage_discounted", "docword_min"),
    ("answer_cosine", "answer_coverage_discounted", "sem_coverage"),
    ("answer_cosine", "vocab_coverage", "docword_top10"),
    ("answer_cosine", "sem_coverage", "docword_min"),
)
# eval/calibrate.py's limits (PubMedQA own-abstract false abstention over 100 questions here).
_MAX_FALSE_COVID, _MAX_FALSE_PUB, _MIN_HELDOUT = 0.0232, 0.05, 0.89


def _rate(flags: list[bool]) -> float:
    return float(np.mean(flags)) if flags else float("nan")


def _pick(rows: list[dict], features: Sequence[str], judge: list[dict]) -> tuple | None:
    """Fit on `rows`; the threshold meeting the benchmark limits with the best balance on
    `judge` (trust questions; the middle of the best plateau, as eval.calibrate picks it)."""
    from sklearn.linear_model import LogisticRegression

    usable = [r for r in rows if not r["forced"]]
    x = np.array([[r[k] for k in features] for r in usable])
    y = np.array([r["answerable"] for r in usable], dtype=int)
    model = LogisticRegression(class_weight="balanced", C=10.0, max_iter=2000).fit(x, y)
    w, b = model.coef_[0], float(model.intercept_[0])

    def z(group: list[dict]) -> np.ndarray:
        return np.array([-99.0 if r["forced"] else b + float(w @ [r[k] for k in features])
                         for r in group])  # fmt: skip

    groups = [[r for r in rows if r["dataset"] == d] for d in _DATASETS[1:]]
    groups += [[r for r in judge if r["answerable"]], [r for r in judge if not r["answerable"]]]
    zs = [np.sort(z(g)) for g in groups]
    values = np.unique(np.concatenate(zs))
    cuts = (values[1:] + values[:-1]) / 2
    rates = [np.searchsorted(g, cuts, side="left") / max(len(g), 1) for g in zs]
    covid, pub, held, false, correct = rates
    ok = (covid <= _MAX_FALSE_COVID) & (pub <= _MAX_FALSE_PUB) & (held >= _MIN_HELDOUT)
    if not ok.any():
        return None
    balance = np.where(ok, correct - false, -np.inf)
    best = np.flatnonzero(balance == balance.max())
    at = best[len(best) // 2]
    return w, b, float(cuts[at]), tuple(float(r[at]) for r in rates)


def combined(rows: list[dict], min_evidence: float, trust_name: str = "trust-alone") -> str:
    """Each feature set's logistic regression (balanced, C=10, fitted on every dev row),
    its AUCs, and at the threshold with the best trust balance among those meeting the
    benchmark limits: the figures per set; then the trust figures leave-one-out (each trust
    question judged by a fit and threshold chosen without it). Abstention forced whatever
    the score (no candidate; a quantity asked and none stated) stays."""
    for r in rows:
        e = min(max(r["evidence_score"], 1e-4), 1 - 1e-4)
        r["support_logit"] = float(np.log(e / (1 - e)))
        r["forced"] = "docword_min" not in r or (r["abstained"] and e >= min_evidence)
    bench = [r for r in rows if r["dataset"] in _DATASETS[1:]]
    trust = [r for r in rows if r["dataset"] == trust_name]
    lines = [f"feature set | AUC {trust_name}, covid/held | threshold | COVID false, PubMedQA "
             "own false, held-out correct | trust false, correct | leave-one-out trust false, "
             "correct | coefficients"]  # fmt: skip
    for features in COMBINED:
        picked = _pick(bench + trust, features, trust)
        if picked is None:
            lines.append(f"{'+'.join(features)} | no threshold meets the limits")
            continue
        w, b, t, (covid, pub, held, false, correct) = picked

        def z(r: dict, w: np.ndarray = w, b: float = b, fs: Sequence[str] = features) -> float:
            return -99.0 if r["forced"] else b + float(w @ [r[k] for k in fs])

        ok = [z(r) for r in trust if r["answerable"]]
        no = [z(r) for r in trust if not r["answerable"]]
        held_z = [z(r) for r in bench if r["dataset"] == "pubmedqa-heldout"]
        covid_z = [z(r) for r in bench if r["dataset"] == "covid-qa"]
        loo = {True: [], False: []}
        for i, r in enumerate(trust):
            others = trust[:i] + trust[i + 1 :]
            p = _pick(bench + others, features, others)
            if p is not None:
                wi, bi, ti = p[0], p[1], p[2]
                loo[r["answerable"]].append(z(r, wi, bi) < ti)
        coef = " ".join(f"{k}={v:.2f}" for k, v in zip(features, w, strict=True))
        lines.append(
            f"{'+'.join(features)} | {auc(ok, no):.3f}, {auc(covid_z, held_z):.3f} | {t:.2f} | "
            f"{covid:.3f}, {pub:.3f}, {held:.3f} | {false:.3f}, {correct:.3f} | "
            f"{_rate(loo[True]):.3f}, {_rate(loo[False]):.3f} | {coef} bias={b:.2f}"
        )
    return "\n".join(lines)


def distribution(rows: list[dict], key: str) -> str:
    lines = [f"{key} quantiles (5/25/50/75/95%):"]
    for label, answerable in (("answerable", True), ("not answerable", False)):
        values = [r[key] for r in rows if r["answerable"] == answerable and key in r]
        if values:
            q = np.percentile(values, [5, 25, 50, 75, 95])
            lines.append(f"  {label:15} n={len(values):4} " + " ".join(f"{v:.3f}" for v in q))
    return "\n".join(lines)


def _ask_all(
    probe: Probe, questions: list, dataset: str, answerable: Callable[[object], bool]
) -> list[dict]:
    rows = []
    for q in questions:
        a = probe.engine.ask(q.question)
        rows.append(
            {
                "dataset": dataset,
                "id": q.id,
                "question": q.question,
                "answerable": answerable(q),
                "abstained": a.abstained,
                **probe.signals(q.question, a),
            }
        )
    return rows


def trust_rows(
    work: Path, settings: Settings, limit: int | None, conditions: Sequence[str]
) -> tuple[list[dict], Probe]:
    """The trust set's dev half in each of `conditions` (eval/trust.py's indexes)."""
    questions = _questions("dev")[:limit] if limit else _questions("dev")
    files = corpora(work / "files")
    embedder = load_embedder(settings)
    rows: list[dict] = []
    probes = []
    for condition in conditions:
        engine = Engine.open(
            settings.model_copy(update={"index_dir": work / condition}), embedder=embedder
        )
        report = engine.ingest(files[condition])
        if not report.ok:
            raise SystemExit(f"{condition}: {[f.error for f in report.failed]}")
        probes.append(Probe(engine))
        rows += _ask_all(probes[-1], questions, f"trust-{condition}", lambda q: q.answerable)
    return rows, probes[0]


def benchmark_rows(work: Path, settings: Settings, limit: int | None) -> list[dict]:
    """COVID-QA dev (answerable) and PubMedQA dev, held-out abstracts removed (not)."""
    rows: list[dict] = []
    embedder = load_embedder(settings)
    for name in ("covid-qa", "pubmedqa"):
        eval_set = load_eval_set(name, work_dir=work / "data" / name, split="dev", limit=limit)
        engine = Engine.open(
            settings.model_copy(update={"index_dir": work / name}), embedder=embedder
        )
        engine.ingest(eval_set.corpus)
        probe = Probe(engine)
        if name == "covid-qa":
            rows += _ask_all(probe, eval_set.questions, name, lambda q: q.answerable)
            continue
        heldout = [q for q in eval_set.questions if q.id in set(eval_set.heldout)]
        rows += _ask_all(probe, heldout, name, lambda q: True)  # own abstract there
        for doc_id in sorted({q.gold.doc_id for q in heldout if q.gold and q.gold.doc_id}):
            engine.remove(doc_id)
        rows += _ask_all(probe, heldout, f"{name}-heldout", lambda q: False)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("eval-out/probe-answerable"))
    parser.add_argument("--limit", type=int, default=None, help="first N questions per set")
    parser.add_argument("--trust-only", action="store_true", help="skip the benchmarks")
    parser.add_argument(
        "--conditions", default="alone", help="trust indexes, e.g. alone,related,duplicates"
    )
    parser.add_argument("--analyse-only", action="store_true", help="reuse OUT/rows.jsonl")
    args = parser.parse_args(argv)
    settings = Settings()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "rows.jsonl"
    if not args.analyse_only:
        with tempfile.TemporaryDirectory(prefix="papertrail-answerable-") as tmp:
            conditions = args.conditions.split(",")
            trust, probe = trust_rows(Path(tmp) / "trust", settings, args.limit, conditions)
            bench = [] if args.trust_only else benchmark_rows(Path(tmp), settings, args.limit)
        cache.write_text("".join(json.dumps(r) + "\n" for r in trust + bench))
        print(
            f"cost per question, median: the one embedder batch of word_min/phrase_min/drop "
            f"{np.median(probe.cost_ms):.1f} ms; docword_min's passage words "
            f"{np.median(probe.doc_word_counts or [0]):.0f}, embedded "
            f"{np.median(probe.docword_ms or [0.0]):.1f} ms uncached, "
            f"{np.median(probe.docword_cached_ms or [0.0]):.1f} ms with a word-vector cache "
            f"(trust dev, {len(probe.cost_ms)} questions)"
        )
    rows = [derived(json.loads(line)) for line in cache.read_text().splitlines()]
    others = [r for r in rows if r["dataset"].startswith("trust-") and r["dataset"] != _DATASETS[0]]
    trust = [r for r in rows if r["dataset"] == "trust-alone"]
    bench = [r for r in rows if not r["dataset"].startswith("trust-")]
    shown = ["evidence_score", "answer_cosine", "phrase_min", "drop", "vocab_coverage"]
    shown += ["docword_min", "sem_coverage"]
    print("trust dev (alone): id | answerable | abstained | " + " | ".join(shown))
    print("  then each missing word: its best cosine to a passage word alone (that word)")
    for r in trust:
        cells = " ".join(f"{r.get(k, float('nan')):6.3f}" for k in shown)
        words = ", ".join(
            f"{d['word']} {d['docword']:.2f} ({d['nearest']})" for d in r.get("detail", [])
        )
        print(f"{r['id']:16} {r['answerable']!s:5} {r['abstained']!s:5} {cells}\n    {words}")
    print()
    print(table(trust, "trust dev, alone"))
    if bench:
        covid = [r for r in bench if r["dataset"] == "covid-qa" and r["answerable"]]
        held = [r for r in bench if r["dataset"] == "pubmedqa-heldout"]
        pub = [r for r in bench if r["dataset"] == "pubmedqa"]
        print()
        print(table(covid + held, "COVID-QA dev answerable vs PubMedQA dev held out"))
        print()
        print(table(pub + held, "PubMedQA dev own abstract vs held out (same questions)"))
        for k in ("docword_min", "sem_coverage", "vocab_coverage", "evidence_score"):
            print(distribution(covid + held, k))
        for name in _DATASETS:
            mine = [r for r in rows if r["dataset"] == name and "docword_ms" in r]
            if mine:
                print(
                    f"{name}: median per question {np.median([r['cheap_ms'] for r in mine]):.1f}"
                    f" ms one embedder batch; docword: "
                    f"{np.median([r['doc_words'] for r in mine]):.0f} passage words, "
                    f"{np.median([r['docword_ms'] for r in mine]):.1f} ms uncached, "
                    f"{np.median([r['new_words'] for r in mine]):.0f} new to the cache "
                    f"(mean {np.mean([r['new_words'] for r in mine]):.1f})"
                )
        print()
        print(combined(trust + bench, settings.answer.min_evidence))
    for name in sorted({r["dataset"] for r in others}):
        print()
        print(table([r for r in others if r["dataset"] == name], f"{name} (dev)"))
        if bench:
            print(combined([r for r in others if r["dataset"] == name] + bench,
                           settings.answer.min_evidence, name))  # fmt: skip


if __name__ == "__main__":
    main()
