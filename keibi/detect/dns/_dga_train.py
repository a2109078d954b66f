"""Rebuild ``keibi/detect/dns/data/dga_model.json`` offline, deterministically, and measure it.

Run ``python -m keibi.detect.dns._dga_train`` (``--check`` compares with the shipped file
instead of writing it). Nothing is downloaded: the data is what the repository ships or
generates.

**Benign names.** ``data/dga_corpus/english_words.txt`` (a sample of SCOWL's English words),
the registrable labels of ``data/dga_corpus/real_domains.txt`` (well-known sites, services,
CDNs and ad-tech names, with their abbreviations and transliterations), and compounds of two
training words (``bluewater``, ``data-cloud``, ``shop24``), the commonest shape of real
domain names.

**Generated names.** ``SAMPLES_PER_FAMILY`` names of each family in
``keibi.detect.dns._dga_families.TRAINING``, drawn over consecutive days.

**Split.** A label is held out for testing when the first 32 bits of its SHA-256 are 0 mod 5
(20%), for every source alike, so the split never depends on order or on the run. The
bigram table is counted on benign *training* labels only; the regression is fitted on the
training labels of at least ``MIN_LENGTH`` characters (shorter ones are never scored).

**Fit.** L2-regularised logistic regression by Newton's method (iteratively reweighted least
squares, solved exactly: a few features, so no library is needed), features standardised by
their training mean and spread. Real domain labels weigh ``DOMAIN_WEIGHT`` times an English
word: they are what keibi sees. The threshold is the smallest probability at which at most
``TARGET_FPR`` of the benign training labels (English words and real domains, each) score
above it.

**Evaluation** (written into the model file and printed): recall per training family and
false-positive rate per benign source on the held-out 20% (labels shorter than
``MIN_LENGTH`` count as not flagged), precision on the pooled held-out set, recall of each
training family when the model is refitted without it (leave-one-family-out: how it fares on
an unseen family), and recall on the families it never sees (``HELD_OUT``, including the
word-list DGAs a character model cannot catch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

import polars as pl

from keibi.detect.dns._dga_families import HELD_OUT, TRAINING, generate
from keibi.detect.dns._dga_model import MODEL_FILE, DgaModel
from keibi.detect.dns._lexical import FEATURES, bigram_counts, bigram_table, label_features, split_domains

SAMPLES_PER_FAMILY: Final = 1500
COMPOUNDS: Final = 6000
SMOOTHING: Final = 0.5
L2: Final = 1.0
MIN_LENGTH: Final = 6
TARGET_FPR: Final = 0.01
DOMAIN_WEIGHT: Final = 4.0
SEED: Final = 20261124
BENIGN_SOURCES: Final = ("english", "domains", "compounds")


def _corpus(name: str) -> list[str]:
    text = files("keibi.detect.dns").joinpath(f"data/dga_corpus/{name}").read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _held_out(label: str) -> bool:
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16) % 5 == 0


def _labels(names: Sequence[str]) -> list[str]:
    """The registrable labels of ``names``, in first-seen order, without duplicates."""
    split = split_domains(pl.Series(names, dtype=pl.String))
    return [x for x in dict.fromkeys(split["label"].drop_nulls().to_list()) if x]


def _compounds(words: Sequence[str], n: int) -> list[str]:
    rng = random.Random(SEED)
    pool = sorted(w for w in words if 3 <= len(w) <= 8)
    out: dict[str, None] = {}
    while len(out) < n:
        a, b = rng.choice(pool), rng.choice(pool)
        shape = rng.random()
        if shape < 0.6:
            name = a + b
        elif shape < 0.8:
            name = f"{a}-{b}"
        elif shape < 0.9:
            name = f"{a}{rng.choice(('24', '365', '360', '1', '2', '3', '4u', '247', '99', '123'))}"
        else:
            name = a + b + rng.choice(("app", "hq", "io", "ly", "hub", "lab", "ify"))
        out.setdefault(name, None)
    return list(out)


def dataset() -> pl.DataFrame:
    """``label``, ``source`` (benign source or family), ``y`` (1 = generated), ``test`` (held out)."""
    english = sorted(dict.fromkeys(w for w in _corpus("english_words.txt") if w.isascii() and w.isalpha()))
    domains = _labels(_corpus("real_domains.txt"))
    english_train = [w for w in english if not _held_out(w)]
    compounds = [c for c in _compounds(english_train, COMPOUNDS) if c not in set(english)]
    rows: list[tuple[str, str, int]] = []
    benign: set[str] = set()
    for source, labels in (("english", english), ("domains", domains), ("compounds", compounds)):
        for label in labels:
            rows.append((label, source, 0))
            benign.add(label)
    for family in (*TRAINING, *HELD_OUT):
        names = generate(family, SAMPLES_PER_FAMILY, seed=7)
        rows.extend((label, family, 1) for label in _labels(names) if label not in benign)
    frame = pl.DataFrame(rows, schema={"label": pl.String, "source": pl.String, "y": pl.Int8}, orient="row")
    frame = frame.unique(["label", "source"], maintain_order=True)
    return frame.with_columns(pl.Series("test", [_held_out(x) for x in frame["label"]], dtype=pl.Boolean))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix · x = vector`` by Gaussian elimination with partial pivoting (small, dense)."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def fit(frame: pl.DataFrame, names: Sequence[str], l2: float = L2) -> tuple[list[float], float]:
    """Weights and intercept of an L2 logistic regression of ``y`` on the standardised ``names``.

    ``frame`` holds the standardised feature columns, ``y`` and ``weight``.
    """
    k = len(names)
    cols = ["_one", *names]
    data = frame.select(pl.lit(1.0).alias("_one"), *names, pl.col("y").cast(pl.Float64), "weight")
    beta = [0.0] * (k + 1)
    for _ in range(100):
        eta = pl.sum_horizontal([pl.col(c) * b for c, b in zip(cols, beta, strict=True)])
        p = 1.0 / (1.0 + (-eta).exp())
        step = data.with_columns(p.alias("_p")).with_columns(
            (pl.col("weight") * (pl.col("_p") - pl.col("y"))).alias("_g"),
            (pl.col("weight") * pl.col("_p") * (1.0 - pl.col("_p"))).alias("_r"),
        )
        sums = step.select(
            *((pl.col("_g") * pl.col(c)).sum().alias(f"g{i}") for i, c in enumerate(cols)),
            *(
                (pl.col("_r") * pl.col(a) * pl.col(b)).sum().alias(f"h{i}_{j}")
                for i, a in enumerate(cols)
                for j, b in enumerate(cols)
                if j >= i
            ),
        ).row(0, named=True)
        grad = [sums[f"g{i}"] + (l2 * beta[i] if i else 0.0) for i in range(k + 1)]
        hess = [[0.0] * (k + 1) for _ in range(k + 1)]
        for i in range(k + 1):
            for j in range(i, k + 1):
                hess[i][j] = hess[j][i] = sums[f"h{i}_{j}"] + (l2 if i == j and i else 0.0)
        delta = _solve(hess, grad)
        beta = [b - d for b, d in zip(beta, delta, strict=True)]
        if max(abs(d) for d in delta) < 1e-9:
            break
    return beta[1:], beta[0]


def _standardise(frame: pl.DataFrame, mean: Sequence[float], scale: Sequence[float]) -> pl.DataFrame:
    return frame.with_columns(
        ((pl.col(f) - m) / s).alias(f) for f, m, s in zip(FEATURES, mean, scale, strict=True)
    )


def _threshold(train: pl.DataFrame) -> float:
    """The smallest probability (3 decimals, at least 0.5) that flags at most TARGET_FPR of each benign source."""
    worst = 0.5
    for source in ("english", "domains"):
        scores = train.filter(pl.col("source") == source)["p"]
        worst = max(worst, float(scores.quantile(1.0 - TARGET_FPR, interpolation="higher") or 0.0))
    return math.ceil(worst * 1000) / 1000


def _rounded(values: Iterable[float], digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def train(data: pl.DataFrame, families: Sequence[str]) -> dict[str, Any]:
    """Fit on the training split of benign sources and ``families``; return the model document."""
    train_rows = data.filter(~pl.col("test") & (pl.col("y").eq(0) | pl.col("source").is_in(list(families))))
    counts = bigram_counts(train_rows.filter(pl.col("y") == 0)["label"])
    table = bigram_table(counts, SMOOTHING)
    feats = label_features(train_rows["label"], table)
    rows = train_rows.join(feats, on="label", how="inner").filter(pl.col("length") >= MIN_LENGTH)
    mean = _rounded(rows.select(pl.col(f).mean() for f in FEATURES).row(0))
    scale = _rounded(
        max(float(s or 0.0), 1e-6) for s in rows.select(pl.col(f).std() for f in FEATURES).row(0)
    )
    weight = pl.when(pl.col("source") == "domains").then(DOMAIN_WEIGHT).otherwise(1.0).alias("weight")
    std = _standardise(rows, mean, scale).with_columns(weight)
    weights, intercept = fit(std, FEATURES)
    weights, intercept = _rounded(weights), round(intercept, 6)
    eta = pl.sum_horizontal([pl.col(f) * w for f, w in zip(FEATURES, weights, strict=True)]) + intercept
    scored = std.with_columns((1.0 / (1.0 + (-eta).exp())).alias("p"))
    threshold = _threshold(scored.filter(pl.col("y") == 0))
    return {
        "version": 1,
        "features": list(FEATURES),
        "mean": mean,
        "scale": scale,
        "weights": weights,
        "intercept": intercept,
        "threshold": threshold,
        "min_length": MIN_LENGTH,
        "bigram_loglik": {
            b: round(float(ll), 4) for b, ll in zip(table["bigram"], table["loglik"], strict=True)
        },
        "bigrams_never_seen": " ".join(table.filter(~pl.col("seen"))["bigram"].to_list()),
    }


def _flags(doc: dict[str, Any], labels: pl.Series) -> pl.DataFrame:
    """``label`` → ``flagged`` under the model ``doc`` (labels it does not score are not flagged)."""
    model = DgaModel.from_json(doc)
    scored = model.score(labels)
    return (
        pl.DataFrame({"label": labels})
        .unique()
        .join(scored.select("label", "dga_probability"), on="label", how="left")
        .select("label", (pl.col("dga_probability") >= model.threshold).fill_null(False).alias("flagged"))
    )


def evaluate(data: pl.DataFrame, doc: dict[str, Any]) -> dict[str, Any]:
    """Held-out metrics of ``doc`` (see the module docstring), leave-one-family-out included."""
    test = data.filter(pl.col("test") | pl.col("source").is_in(list(HELD_OUT)))
    flagged = test.join(_flags(doc, test["label"]), on="label", how="left")
    rate = flagged.group_by("source").agg(pl.col("flagged").mean().alias("rate"), pl.len().alias("n"))
    rates = {r["source"]: (round(r["rate"], 4), r["n"]) for r in rate.rows(named=True)}
    pooled = flagged.filter(pl.col("source").is_in([*TRAINING, "english", "domains"]))
    tp = pooled.filter((pl.col("y") == 1) & pl.col("flagged")).height
    fp = pooled.filter((pl.col("y") == 0) & pl.col("flagged")).height
    fn = pooled.filter((pl.col("y") == 1) & ~pl.col("flagged")).height
    lofo: dict[str, float] = {}
    for family in TRAINING:
        others = [f for f in TRAINING if f != family]
        refit = train(data, others)
        names = data.filter(pl.col("source") == family)["label"]
        recall = _flags(refit, names)["flagged"].cast(pl.Float64).mean()
        lofo[family] = round(float(recall) if isinstance(recall, float) else 0.0, 4)
    return {
        "held_out_share": 0.2,
        "threshold": doc["threshold"],
        "false_positive_rate": {s: {"rate": rates[s][0], "labels": rates[s][1]} for s in BENIGN_SOURCES},
        "recall": {f: {"rate": rates[f][0], "labels": rates[f][1]} for f in TRAINING},
        "pooled": {
            "generated": tp + fn,
            "benign": pooled.filter(pl.col("y") == 0).height,
            "true_positives": tp,
            "false_positives": fp,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        },
        "recall_leave_one_family_out": lofo,
        "recall_never_trained": {f: {"rate": rates[f][0], "labels": rates[f][1]} for f in HELD_OUT},
    }


def build() -> dict[str, Any]:
    """The complete model document: fitted model, training description, evaluation."""
    data = dataset()
    doc = train(data, TRAINING)
    benign = data.filter(pl.col("y") == 0).group_by("source").len()
    doc["training"] = {
        "families": list(TRAINING),
        "samples_per_family": SAMPLES_PER_FAMILY,
        "benign_labels": {r["source"]: r["len"] for r in benign.sort("source").rows(named=True)},
        "smoothing": SMOOTHING,
        "l2": L2,
        "target_fpr": TARGET_FPR,
        "domain_weight": DOMAIN_WEIGHT,
    }
    doc["evaluation"] = evaluate(data, doc)
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="where to write the model (default: the shipped file)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args(argv)
    text = render(build())
    shipped = Path(str(files("keibi.detect.dns").joinpath(MODEL_FILE)))
    evaluation = json.loads(text)["evaluation"]
    print(json.dumps(evaluation, indent=1))
    if args.check:
        same = shipped.is_file() and shipped.read_text(encoding="utf-8") == text
        print(
            "shipped model is up to date" if same else "shipped model differs from a rebuild", file=sys.stderr
        )
        return 0 if same else 1
    target = args.out or shipped
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
