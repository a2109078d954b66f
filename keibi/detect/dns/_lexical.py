"""Lexical features of domain names, shared by the DGA and reputation detectors.

Everything here works on the *distinct* names of a batch, vectorised with Polars string and
list expressions: a detector scores each distinct name once and joins the result back to its
records, so no Python runs per record.

**Which label is scored.** A name is split at its public suffix (the ICANN section of the
Public Suffix List shipped with ``publicsuffixlist``, the same list that fills
``dnsRequestAction.domainWithSuffix``): ``x7kq2.cdn.example.co.uk`` has the registrable
domain ``example.co.uk`` and the registrable *label* ``example``. Malware that generates
domains registers them, so the generated part is the registrable label; a random-looking
subdomain (``d1abc2xyz`` in ``d1abc2xyz.cloudfront.net``) is the customer's piece of someone
else's namespace and says nothing about the owner. Names with no known public suffix
(``ip-10-0-1-5.ec2.internal``, search-domain expansions such as ``pypi.org.ec2.internal``,
Kubernetes' ``*.svc.cluster.local``, Chromium's single-label probes) are never scored.

**The infrastructure allowlist** (:data:`INFRASTRUCTURE_SUFFIXES`): names under these
suffixes are never scored, whatever they look like. They are the cloud, CDN and resolver
namespaces whose host names are machine-made by design: CloudFront distributions
(``d1abc2xyz.cloudfront.net``), every AWS endpoint and resource name (``*.amazonaws.com``,
``*.on.aws``, Route 53's ``awsdns-NN`` name servers, :data:`INFRASTRUCTURE_LABEL`), EC2 host names, Akamai
(``e1234.a.akamaiedge.net``), Fastly, Cloudflare, Google, Azure and Microsoft service names,
and the well-known DNS-over-HTTPS resolvers (``dns.google``, ``cloudflare-dns.com``,
``dns.quad9.net``, ``doh.opendns.com``, ``dns.nextdns.io``, ...), plus reverse-lookup
(``in-addr.arpa``, ``ip6.arpa``) names. The list is deliberately of *infrastructure* only:
beyond the three cloud providers' own domains, popular sites are not on it; the model itself
must keep them quiet.

**Label features** (:func:`label_features`), the inputs of the DGA model
(``keibi.detect.dns._dga_model``) and the reputation score: length, digit ratio, vowel
ratio, longest consonant run, Shannon entropy of the characters, the number of hyphens and
of switches between digits and other characters, and the mean log-likelihood of the label's character bigrams
under a model of benign names (with the share of bigrams benign names never showed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

import polars as pl

INFRASTRUCTURE_SUFFIXES: Final[tuple[str, ...]] = (
    # AWS: every service endpoint and resource name, CloudFront, Route 53 name servers,
    # Lambda function URLs and other *.on.aws names, AWS's own web properties and PKI
    "amazonaws.com",
    "amazonaws.com.cn",
    "api.aws",
    "on.aws",
    "cloudfront.net",
    "awsstatic.com",
    "awsglobalaccelerator.com",
    "awsapps.com",
    "elasticbeanstalk.com",
    "amazontrust.com",
    "a2z.com",
    "amazon.com",
    "amazon.dev",
    "aws.dev",
    # Akamai, Fastly, Cloudflare, other CDNs whose edge names are generated
    "akamai.net",
    "akamaiedge.net",
    "akamaihd.net",
    "akamaized.net",
    "akamaitechnologies.com",
    "akadns.net",
    "akam.net",
    "edgekey.net",
    "edgesuite.net",
    "fastly.net",
    "fastlylb.net",
    "fastly-edge.com",
    "cloudflare.com",
    "cloudflare.net",
    "cloudflareinsights.com",
    "llnwd.net",
    "llnwi.net",
    "hwcdn.net",
    "cdn77.org",
    "b-cdn.net",
    "edgecastcdn.net",
    "stackpathdns.com",
    "incapdns.net",
    # Google: search, APIs, storage, video, its reverse names (1e100.net), PKI
    "google.com",
    "googleapis.com",
    "googleusercontent.com",
    "gstatic.com",
    "googlevideo.com",
    "gvt1.com",
    "gvt2.com",
    "ggpht.com",
    "ytimg.com",
    "1e100.net",
    "pki.goog",
    "appspot.com",
    "run.app",
    "cloudfunctions.net",
    # Microsoft and Azure
    "microsoft.com",
    "windows.net",
    "azure.com",
    "azure.net",
    "azureedge.net",
    "azurefd.net",
    "azurewebsites.net",
    "azurecr.io",
    "azure-api.net",
    "azure-dns.com",
    "azure-dns.net",
    "cloudapp.net",
    "trafficmanager.net",
    "msedge.net",
    "msftncsi.com",
    "msftconnecttest.com",
    "windowsupdate.com",
    "microsoftonline.com",
    "office.net",
    "office365.com",
    # DNS-over-HTTPS / DNS-over-TLS resolvers
    "dns.google",
    "cloudflare-dns.com",
    "one.one.one.one",
    "quad9.net",
    "opendns.com",
    "umbrella.com",
    "nextdns.io",
    "adguard-dns.com",
    "adguard.com",
    "cleanbrowsing.org",
    "mullvad.net",
    "dns.sb",
    "controld.com",
    # reverse lookups
    "arpa",
)
"""Names under these suffixes (or equal to them) are never scored: see the module docstring."""
INFRASTRUCTURE_LABEL: Final = r"^awsdns-(cn-)?[0-9]{2}$"
"""Registrable labels that are infrastructure wherever they sit: Route 53's name-server
domains (``ns-1234.awsdns-56.org``, ``awsdns-cn-07.com``), one per number and TLD."""

LDH: Final = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
"""A host-name label (letters, digits, inner hyphens): the only labels the model scores."""
BOUNDARY_START: Final = "^"
BOUNDARY_END: Final = "$"
ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789-"

FEATURES: Final[tuple[str, ...]] = (
    "length",
    "digit_ratio",
    "vowel_ratio",
    "consonant_run",
    "entropy",
    "hyphens",
    "switches",
    "bigram_loglik",
    "unseen_bigrams",
)
"""The label features, in the order the model's weights follow."""

FEATURE_NOTES: Final[dict[str, str]] = {
    "length": "characters in the label",
    "digit_ratio": "share of digits",
    "vowel_ratio": "share of vowels among the letters",
    "consonant_run": "longest run of consonants",
    "entropy": "Shannon entropy of the characters (bits)",
    "hyphens": "number of hyphens",
    "switches": "switches between digits and other characters",
    "bigram_loglik": "mean log-likelihood of its character pairs under benign names",
    "unseen_bigrams": "share of character pairs benign names never showed",
}


@dataclass(frozen=True, slots=True)
class _Suffixes:
    exact: pl.Series
    wildcard_parents: pl.Series  # "*.ck" → "ck"
    exceptions: pl.Series  # "!www.ck" → "www.ck"
    depth: int


@cache
def _public_suffixes(private: bool = False) -> _Suffixes:
    """The ICANN rules of the Public Suffix List that ``publicsuffixlist`` ships, ASCII
    (punycode); with ``private``, its private section too (``cloudfront.net``,
    ``s3.amazonaws.com``: each customer's name is then its own registrable domain)."""
    text = files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text(encoding="utf-8")
    exact: set[str] = set()
    wild: set[str] = set()
    exceptions: set[str] = set()
    sections = {"// ===BEGIN ICANN DOMAINS===": True, "// ===BEGIN PRIVATE DOMAINS===": private}
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line in sections:
            inside = sections[line]
            continue
        if line.startswith("// ===END "):
            inside = False
            continue
        if not inside or not line or line.startswith("//"):
            continue
        rule = line.split()[0].lower()
        try:
            ascii_rule = ".".join(
                part if part.isascii() else part.encode("idna").decode("ascii") for part in rule.split(".")
            )
        except UnicodeError:
            continue
        if ascii_rule.startswith("!"):
            exceptions.add(ascii_rule[1:])
        elif ascii_rule.startswith("*."):
            wild.add(ascii_rule[2:])
        else:
            exact.add(ascii_rule)
    depth = max(r.count(".") + 1 for r in exact | {w + ".x" for w in wild})
    return _Suffixes(
        pl.Series(sorted(exact), dtype=pl.String),
        pl.Series(sorted(wild), dtype=pl.String),
        pl.Series(sorted(exceptions), dtype=pl.String),
        depth,
    )


def _parent(d: int) -> pl.Expr:
    """The last ``d`` labels of ``_labels`` joined (null when the name has fewer)."""
    return (
        pl.when(pl.col("_n") >= d)
        .then(pl.col("_labels").list.slice(-d, d).list.join("."))
        .otherwise(None)
        .alias(f"_p{d}")
    )


def split_domains(domains: pl.Series, *, private: bool = False) -> pl.DataFrame:
    """One row per distinct non-empty name of ``domains`` (lower-case, no trailing dot), split
    by the ICANN rules of the Public Suffix List (``private``: its private section too).

    Columns: ``domain``; ``registrable`` (``example.co.uk``, null when the name has no known
    public suffix or is a bare suffix); ``label`` (the registrable domain's first label);
    ``subdomain`` (what is left of the registrable domain, or null); ``infrastructure``
    (bool: under :data:`INFRASTRUCTURE_SUFFIXES`); and ``_p1`` … ``_pN`` (the name's last
    1 … N labels, for further suffix tests with :func:`under`).
    """
    sfx = _public_suffixes(private)
    infra_depth = max(s.count(".") + 1 for s in INFRASTRUCTURE_SUFFIXES)
    top = max(sfx.depth + 1, infra_depth)
    frame = (
        pl.DataFrame({"domain": domains.cast(pl.String)})
        .lazy()
        .filter(pl.col("domain").is_not_null() & (pl.col("domain") != ""))
        .unique("domain", maintain_order=True)
        .with_columns(pl.col("domain").str.split(".").alias("_labels"))
        .with_columns(pl.col("_labels").list.len().alias("_n"))
        .with_columns(*(_parent(d) for d in range(1, top + 1)))
    )
    depth: pl.Expr = pl.lit(0)
    for d in range(1, sfx.depth + 1):
        hit = pl.col(f"_p{d}").is_in(sfx.exact.implode())
        if d >= 2:
            hit = hit | (
                pl.col(f"_p{d}").is_not_null() & pl.col(f"_p{d - 1}").is_in(sfx.wildcard_parents.implode())
            )
        depth = pl.when(hit.fill_null(False)).then(pl.lit(d)).otherwise(depth)
    for d in range(2, sfx.depth + 1):
        depth = (
            pl.when(pl.col(f"_p{d}").is_in(sfx.exceptions.implode()).fill_null(False))
            .then(pl.lit(d - 1))
            .otherwise(depth)
        )
    has_label = (pl.col("_depth") > 0) & (pl.col("_n") > pl.col("_depth"))
    keep = pl.col("_n") - pl.col("_depth") - 1  # labels left of the registrable label
    infra = pl.any_horizontal(
        pl.col(f"_p{d}").is_in(pl.Series(INFRASTRUCTURE_SUFFIXES).implode()).fill_null(False)
        for d in range(1, infra_depth + 1)
    )
    return (
        frame.with_columns(depth.alias("_depth"))
        .with_columns(
            pl.when(has_label).then(pl.col("_labels").list.get(keep, null_on_oob=True)).alias("label")
        )
        .with_columns(
            pl.when(has_label)
            .then(pl.col("_labels").list.slice(keep, pl.col("_depth") + 1).list.join("."))
            .alias("registrable"),
            pl.when(has_label & (keep > 0))
            .then(pl.col("_labels").list.slice(0, keep).list.join("."))
            .alias("subdomain"),
            (infra | pl.col("label").str.contains(INFRASTRUCTURE_LABEL).fill_null(False)).alias(
                "infrastructure"
            ),
        )
        .select("domain", "registrable", "label", "subdomain", "infrastructure", pl.col("^_p\\d+$"))
        .collect()
    )


def under(suffixes: pl.Series, depth: int) -> pl.Expr:
    """True when the name (a :func:`split_domains` row) equals or ends with ``.`` one of ``suffixes``.

    ``depth`` is the most labels any of ``suffixes`` has (at most the ``_pN`` columns present).
    """
    listed = suffixes.implode()
    return pl.any_horizontal(pl.col(f"_p{d}").is_in(listed).fill_null(False) for d in range(1, depth + 1))


def bigram_table(counts: pl.DataFrame, smoothing: float) -> pl.DataFrame:
    """``bigram`` → ``loglik`` (natural log of P(next | previous), add-``smoothing``) and ``seen``.

    ``counts`` has ``bigram`` and ``count`` columns (pairs over ``^`` + label + ``$``). Every
    pair of the alphabet gets a row, seen or not, so scoring needs no fallback inside it.
    """
    firsts = [BOUNDARY_START, *ALPHABET]
    nexts = [*ALPHABET, BOUNDARY_END]
    grid = pl.DataFrame({"first": firsts}).join(pl.DataFrame({"next": nexts}), how="cross")
    grid = grid.with_columns((pl.col("first") + pl.col("next")).alias("bigram"))
    joined = grid.join(counts.select("bigram", "count"), on="bigram", how="left").with_columns(
        pl.col("count").fill_null(0).cast(pl.Float64)
    )
    total = pl.col("count").sum().over("first")
    return joined.select(
        "bigram",
        ((pl.col("count") + smoothing) / (total + smoothing * len(nexts))).log().alias("loglik"),
        (pl.col("count") > 0).alias("seen"),
    ).sort("bigram")


def bigram_counts(labels: pl.Series) -> pl.DataFrame:
    """How often each bigram of ``^`` + label + ``$`` occurs in ``labels`` (LDH labels only)."""
    pairs = _pairs(
        pl.DataFrame({"label": labels}).filter(pl.col("label").str.contains(LDH)).with_row_index("_id")
    )
    return pairs.group_by("bigram").len("count").sort("bigram")


def _pairs(base: pl.DataFrame) -> pl.DataFrame:
    """``_id``, ``bigram``, ``prev``, ``next`` for every adjacent pair of ``^`` + label + ``$``."""
    chars = base.select(
        "_id",
        pl.concat_str(pl.lit(BOUNDARY_START), pl.col("label"), pl.lit(BOUNDARY_END)).str.split("").alias("c"),
    ).explode("c")
    same = pl.col("_id") == pl.col("_id").shift(1)
    return (
        chars.select(
            "_id",
            pl.col("c").shift(1).alias("prev"),
            pl.col("c").alias("next"),
            same.alias("_same"),
        )
        .filter(pl.col("_same").fill_null(False))
        .select("_id", (pl.col("prev") + pl.col("next")).alias("bigram"), "prev", "next")
    )


def label_features(labels: pl.Series, bigrams: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct LDH label of ``labels``: ``label`` and the :data:`FEATURES` columns.

    ``bigrams`` is a :func:`bigram_table`. Labels that are not LDH host-name labels (``_dmarc``,
    empty, non-ASCII) are left out.
    """
    base = (
        pl.DataFrame({"label": labels.cast(pl.String)})
        .filter(pl.col("label").str.contains(LDH).fill_null(False))
        .unique("label", maintain_order=True)
        .with_row_index("_id")
    )
    if base.is_empty():
        return pl.DataFrame(schema={"label": pl.String, **dict.fromkeys(FEATURES, pl.Float64)})
    label = pl.col("label")
    letters = label.str.count_matches("[a-z]").cast(pl.Float64)
    length = label.str.len_chars().cast(pl.Float64)
    basic = base.select(
        "_id",
        "label",
        length.alias("length"),
        (label.str.count_matches("[0-9]").cast(pl.Float64) / length).alias("digit_ratio"),
        pl.when(letters > 0)
        .then(label.str.count_matches("[aeiou]").cast(pl.Float64) / letters)
        .otherwise(0.0)
        .alias("vowel_ratio"),
        label.str.extract_all("[b-df-hj-np-tv-z]+")
        .list.eval(pl.element().str.len_chars())
        .list.max()
        .fill_null(0)
        .cast(pl.Float64)
        .alias("consonant_run"),
        label.str.count_matches("-").cast(pl.Float64).alias("hyphens"),
    )
    pairs = _pairs(base).join(bigrams.select("bigram", "loglik", "seen"), on="bigram", how="left")
    digit = "0123456789"
    inner = ~pl.col("prev").is_in([BOUNDARY_START]) & ~pl.col("next").is_in([BOUNDARY_END])
    switch = inner & (pl.col("prev").is_in(list(digit)) != pl.col("next").is_in(list(digit)))
    by_pair = pairs.group_by("_id").agg(
        pl.col("loglik").mean().alias("bigram_loglik"),
        (1.0 - pl.col("seen").cast(pl.Float64).mean()).alias("unseen_bigrams"),
        switch.sum().cast(pl.Float64).alias("switches"),
    )
    chars = base.select("_id", label.str.split("").alias("c"), length.alias("_len")).explode("c")
    counts = chars.group_by("_id", "c").agg(pl.len().alias("k"), pl.col("_len").first())
    p = pl.col("k").cast(pl.Float64) / pl.col("_len")
    entropy = counts.group_by("_id").agg((-(p * p.log(2))).sum().alias("entropy"))
    return (
        basic.join(by_pair, on="_id", how="left")
        .join(entropy, on="_id", how="left")
        .sort("_id")
        .select("label", *(pl.col(f).cast(pl.Float64) for f in FEATURES))
    )
