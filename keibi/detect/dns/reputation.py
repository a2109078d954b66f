"""Impact:EC2/{Malicious,Suspicious,Abused,Bitcoin}DomainRequest.Reputation: low-reputation domains.

GuardDuty scores every queried domain with a reputation model and raises one of four types
for a low-reputation one: *Malicious* (linked to known malicious domains or campaigns),
*Bitcoin* (cryptocurrency activity), *Abused* (free subdomain and dynamic-DNS providers and
the like) and *Suspicious* (looks like past malicious domains, tied to no known threat).

**keibi's score** is a sum of points, each a named signal, listed with its points in
``keibi/detect/dns/data/reputation.toml`` and reported in the finding, so a score always
explains itself (``additionalInfo.reputationSignals``: signal, points, detail):

- intelligence: the domain is on a feed of category ``Malicious`` (``malicious_feed``; the
  other feed categories have their own types in ``keibi.detect.dns.threat_feeds``);
- where it is registered: a dynamic-DNS provider, a public tunnel service, a free hosting
  subdomain (the name's *site* is then ``<name>.<provider>``), a free TLD (Freenom's) or one
  of the most abused TLDs;
- what it looks like: a random-looking label (the DGA model's probability for the site's
  label, ``keibi.detect.dns._dga_model``, times ``random_label`` points when at least 0.9),
  mining and coin words, a well-known brand in a domain the brand does not own, phishing
  words (login, verify, account...), three or more hyphens, a label of 25+ characters, an
  internationalised (``xn--``) label.

**From score to type**, per distinct name, first match wins: a name on keibi's reputation
list (``[seeds]``: the test domains of AWS's amazon-guardduty-tester) takes its listed
type; a ``Malicious`` feed entry is *Malicious*; with ``settings.reputation_min_score`` (5)
points or more, a name with a crypto word is *Bitcoin*, then
``settings.reputation_malicious_score`` (9) points is *Malicious*, then a name on a
provider (dynamic DNS, tunnel, free hosting) is *Abused*, else *Suspicious*. So one signal
alone never fires (a random-looking ``.com``, a ``.xyz`` site, ``pool.ntp.org``, a home lab
on ``duckdns.org``): it takes two, such as a random-looking name on a dynamic-DNS provider
(``x8fk2jq0vz.duckdns.org``: 3 + ~4 points, Abused), a coin word on an abused TLD
(``xmrpool-eu.top``: 3 + 2, Bitcoin), or a brand with phishing words on a cheap TLD.
A score counts only for queries that resolved (``NOERROR``): a name that does not exist has
no reputation to speak of, and a DGA bot's failing lookups are ``keibi.detect.dns.dga``'s;
a listed name (seed or feed) counts whatever the answer.

**Quiet by construction:** names under the infrastructure suffixes of
``keibi.detect.dns._lexical`` (AWS, CloudFront, Akamai, Google, Azure, DoH resolvers, reverse
lookups), names without a public suffix, a provider's own service names (``www``,
``dynupdate``...), trusted domains, and domains a user's threat list or another feed
category already names (those findings are more specific).

One finding per instance (or source address), type and site (the registrable domain, or the
provider site), with the instance as ``ACTOR``; a ``Malicious`` feed match also fills
``threatListName``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.dns._dga_model import dga_model
from keibi.detect.dns._lexical import split_domains


def _reputation_type(type_: str, severity: Severity, what: str) -> FindingType:
    return FindingType(
        type=type_,
        severity=severity,
        data_sources=("dns",),
        resource_type="Instance",
        detection="threat_intel",
        action_type="DNS_REQUEST",
        title=f"EC2 instance {{resource_id}} is querying a low-reputation domain {what}.",
        description=(
            f"EC2 instance {{resource_id}} is querying the domain name {{domain}}, which keibi's domain "
            f"reputation score rates as {what}."
        ),
    )


MALICIOUS = _reputation_type(
    "Impact:EC2/MaliciousDomainRequest.Reputation", Severity.HIGH, "associated with malicious activity"
)
SUSPICIOUS = _reputation_type(
    "Impact:EC2/SuspiciousDomainRequest.Reputation", Severity.LOW, "that looks suspicious"
)
ABUSED = _reputation_type(
    "Impact:EC2/AbusedDomainRequest.Reputation",
    Severity.MEDIUM,
    "on a commonly abused service (dynamic DNS, tunnel or free hosting)",
)
BITCOIN = _reputation_type(
    "Impact:EC2/BitcoinDomainRequest.Reputation", Severity.HIGH, "associated with cryptocurrency activity"
)
TYPES: Final[dict[str, FindingType]] = {
    "Malicious": MALICIOUS,
    "Suspicious": SUSPICIOUS,
    "Abused": ABUSED,
    "Bitcoin": BITCOIN,
}
MALICIOUS_CATEGORY: Final = "Malicious"

SIGNAL: Final = pl.Struct({"signal": pl.String(), "points": pl.Float64(), "detail": pl.String()})
SCORES: Final = pl.Schema(
    {
        "domain": pl.String(),
        "site": pl.String(),
        "category": pl.String(),
        "listed": pl.Boolean(),
        "seed": pl.String(),
        "score": pl.Float64(),
        "signals": pl.List(SIGNAL),
    }
)


@dataclass(frozen=True, slots=True)
class ReputationData:
    """``reputation.toml``: points per signal and the lists behind them."""

    points: dict[str, float]
    providers: dict[str, tuple[str, ...]]
    service_labels: tuple[str, ...]
    free_tlds: tuple[str, ...]
    high_abuse_tlds: tuple[str, ...]
    keywords: dict[str, tuple[str, ...]]
    brands: dict[str, tuple[str, ...]]
    seeds: dict[str, str]

    @classmethod
    def from_toml(cls, doc: dict[str, Any]) -> ReputationData:
        providers = {k: tuple(v) for k, v in doc["providers"].items() if k != "service_labels"}
        seeds = {str(k).lower(): str(v) for k, v in doc["seeds"].items()}
        unknown = set(seeds.values()) - set(TYPES)
        if unknown:
            raise ValueError(f"reputation seeds name unknown categories {sorted(unknown)}")
        return cls(
            points={k: float(v) for k, v in doc["points"].items()},
            providers=providers,
            service_labels=tuple(doc["providers"]["service_labels"]),
            free_tlds=tuple(doc["tlds"]["free"]),
            high_abuse_tlds=tuple(doc["tlds"]["high_abuse"]),
            keywords={k: tuple(v) for k, v in doc["keywords"].items()},
            brands={k: tuple(v) for k, v in doc["brands"].items()},
            seeds=seeds,
        )


@cache
def reputation_data() -> ReputationData:
    text = files("keibi.detect.dns").joinpath("data/reputation.toml").read_text(encoding="utf-8")
    return ReputationData.from_toml(tomllib.loads(text))


def _depth(names: tuple[str, ...] | list[str]) -> int:
    return max((n.count(".") + 1 for n in names), default=1)


def _longest_match(mapping: dict[str, str], top: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value, depth, matched suffix) of the longest ``_pN`` suffix of the name in ``mapping``, else nulls."""
    keys, values = (
        pl.Series(list(mapping), dtype=pl.String),
        pl.Series(list(mapping.values()), dtype=pl.String),
    )
    value: pl.Expr = pl.lit(None, dtype=pl.String)
    depth: pl.Expr = pl.lit(None, dtype=pl.Int32)
    suffix: pl.Expr = pl.lit(None, dtype=pl.String)
    for d in range(1, top + 1):
        found = pl.col(f"_p{d}").replace_strict(keys, values, default=None, return_dtype=pl.String)
        value = pl.when(found.is_not_null()).then(found).otherwise(value)
        depth = pl.when(found.is_not_null()).then(pl.lit(d, dtype=pl.Int32)).otherwise(depth)
        suffix = pl.when(found.is_not_null()).then(pl.col(f"_p{d}")).otherwise(suffix)
    return value, depth, suffix


def _words(words: tuple[str, ...], *, tokens: bool) -> str:
    body = "|".join(sorted(words, key=len, reverse=True))
    return f"(^|[.0-9-])({body})($|[.0-9-])" if tokens else f"({body})"


def _signal(name: str, points: pl.Expr, detail: pl.Expr) -> pl.Expr:
    return pl.struct(pl.lit(name).alias("signal"), points.alias("points"), detail.alias("detail"))


def score_domains(domains: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    """Score each distinct name of ``domains`` (``domain``, ``domain_feed_category``, ``domain_feed``).

    Returns :data:`SCORES`: ``site`` (what the finding is about), ``category`` (a key of
    :data:`TYPES`, null when the name is not low-reputation), ``listed`` (the category comes
    from a list: a seed or a ``Malicious`` feed, not from the score), ``score`` and the
    ``signals`` that scored.
    """
    data = reputation_data()
    pts = data.points
    feeds = domains.unique("domain", keep="first", maintain_order=True)
    provider_of = {s: kind for kind, suffixes in data.providers.items() for s in suffixes}
    top = max(_depth(list(provider_of)) + 1, _depth(list(data.seeds)))
    parts = split_domains(feeds["domain"])
    present = [int(c[2:]) for c in parts.columns if c.startswith("_p")]
    parts = parts.with_columns(
        pl.lit(None, dtype=pl.String).alias(f"_p{d}") for d in range(max(present) + 1, top + 2)
    )
    provider, provider_depth, _ = _longest_match(provider_of, top)
    seed, _, seed_name = _longest_match(data.seeds, top)
    labels = pl.col("domain").str.split(".")
    n = labels.list.len()
    site_label = labels.list.get(n - pl.col("_pdepth") - 1, null_on_oob=True)
    framed = (
        parts.filter(~pl.col("infrastructure"))
        .join(feeds.select("domain", "domain_feed_category", "domain_feed"), on="domain", how="left")
        .with_columns(
            provider.alias("provider"),
            provider_depth.alias("_pdepth"),
            seed.alias("seed"),
            seed_name.alias("_seed_name"),
        )
        .with_columns(
            pl.when(pl.col("provider").is_not_null() & (n > pl.col("_pdepth")))
            .then(site_label)
            .alias("_site_label")
        )
        .filter(
            pl.col("registrable").is_not_null()
            | pl.col("_site_label").is_not_null()
            | pl.col("seed").is_not_null()
        )
        .filter(~pl.col("_site_label").is_in(list(data.service_labels)).fill_null(False))
        .with_columns(
            pl.when(pl.col("_seed_name").is_not_null())
            .then(pl.col("_seed_name"))
            .when(pl.col("_site_label").is_not_null())
            .then(labels.list.slice(n - pl.col("_pdepth") - 1).list.join("."))
            .otherwise(pl.coalesce("registrable", "domain"))
            .alias("site"),
            pl.coalesce("_site_label", "label").alias("_scored_label"),
        )
    )
    if framed.is_empty():
        return pl.DataFrame(schema=SCORES)
    model = dga_model()
    scored = model.score(framed["_scored_label"].drop_nulls()).select(
        pl.col("label").alias("_scored_label"), "dga_probability"
    )
    framed = framed.join(scored, on="_scored_label", how="left")

    # Keywords count in the label the site's owner chose (the registrable label, or the host
    # name on a provider): subdomains such as login.example.com or 2.amazon.pool.ntp.org are
    # everyday names. Only the distinctive mining words count anywhere in the name.
    kw = data.keywords
    name, own = pl.col("domain"), pl.col("_scored_label").fill_null("")
    crypto = name.str.extract(_words(kw["crypto_substrings"], tokens=False), 1).fill_null(
        own.str.extract(_words(kw["crypto_tokens"], tokens=True), 2)
    )
    phishing = own.str.extract(_words(kw["phishing_substrings"], tokens=False), 1).fill_null(
        own.str.extract(_words(kw["phishing_tokens"], tokens=True), 2)
    )
    brand = own.str.extract(_words(tuple(data.brands), tokens=False), 1)
    owners = [(b, d) for b, owned in data.brands.items() for d in owned]
    owned_pairs = pl.Series([f"{b}|{d}" for b, d in owners], dtype=pl.String)
    brand_owned = pl.concat_str(brand, pl.lit("|"), pl.col("registrable")).is_in(owned_pairs.implode())
    label = pl.col("label").fill_null("")
    tld = pl.col("_p1")
    probability = pl.col("dga_probability").fill_null(0.0)
    zero = pl.lit(0.0)

    def when(cond: pl.Expr, points: float | pl.Expr) -> pl.Expr:
        value = points if isinstance(points, pl.Expr) else pl.lit(points)
        return pl.when(cond.fill_null(False)).then(value).otherwise(zero)

    # (signal, points, detail): points are summed for every name; the list of what scored is
    # built for the flagged names only (list operations cost more than all the rest).
    signals: list[tuple[str, pl.Expr, pl.Expr]] = [
        (
            "malicious_feed",
            when(pl.col("domain_feed_category") == MALICIOUS_CATEGORY, pts["malicious_feed"]),
            pl.col("domain_feed"),
        ),
        *(
            (kind, when(pl.col("provider") == kind, pts[kind]), pl.col("site"))
            for kind in ("dynamic_dns", "tunnel", "free_hosting")
        ),
        ("free_tld", when(tld.is_in(list(data.free_tlds)), pts["free_tld"]), tld),
        ("high_abuse_tld", when(tld.is_in(list(data.high_abuse_tlds)), pts["high_abuse_tld"]), tld),
        (
            "random_label",
            when(
                probability >= pts["random_label_min_probability"],
                (probability * pts["random_label"]).round(2),
            ),
            pl.format("{} (DGA probability {})", pl.col("_scored_label"), probability.round(3)),
        ),
        ("crypto_keyword", when(pl.col("_crypto").is_not_null(), pts["crypto_keyword"]), pl.col("_crypto")),
        (
            "brand",
            when(pl.col("_brand").is_not_null() & ~brand_owned.fill_null(False), pts["brand"]),
            pl.col("_brand"),
        ),
        (
            "phishing_keyword",
            when(pl.col("_phishing").is_not_null(), pts["phishing_keyword"]),
            pl.col("_phishing"),
        ),
        ("many_hyphens", when(label.str.count_matches("-") >= 3, pts["many_hyphens"]), label),
        ("long_label", when(label.str.len_chars() >= 25, pts["long_label"]), label),
        ("punycode", when(label.str.starts_with("xn--"), pts["punycode"]), label),
    ]
    minimum, malicious = ctx.settings.reputation_min_score, ctx.settings.reputation_malicious_score
    category = (
        pl.when(pl.col("seed").is_not_null())
        .then(pl.col("seed"))
        .when(pl.col("domain_feed_category") == MALICIOUS_CATEGORY)
        .then(pl.lit("Malicious"))
        .when((pl.col("score") >= minimum) & pl.col("_crypto").is_not_null())
        .then(pl.lit("Bitcoin"))
        .when(pl.col("score") >= malicious)
        .then(pl.lit("Malicious"))
        .when((pl.col("score") >= minimum) & pl.col("provider").is_not_null())
        .then(pl.lit("Abused"))
        .when(pl.col("score") >= minimum)
        .then(pl.lit("Suspicious"))
        .otherwise(None)
    )
    by_list = pl.col("seed").is_not_null() | (pl.col("domain_feed_category") == MALICIOUS_CATEGORY).fill_null(
        False
    )
    totals = (
        framed.with_columns(crypto.alias("_crypto"), brand.alias("_brand"), phishing.alias("_phishing"))
        .with_columns(*(points.alias(f"_pt_{name}") for name, points, _ in signals))
        .with_columns(
            pl.sum_horizontal(pl.col(f"_pt_{name}") for name, _, _ in signals).round(2).alias("score")
        )
        .with_columns(category.alias("category"), by_list.alias("listed"))
    )
    listed = pl.concat_list(
        _signal(name, pl.col(f"_pt_{name}"), detail.cast(pl.String)) for name, _, detail in signals
    ).list.eval(pl.element().filter(pl.element().struct.field("points") > 0))
    flagged = pl.col("category").is_not_null()
    return (
        pl.concat(
            [
                totals.filter(~flagged).with_columns(pl.lit(None, dtype=pl.List(SIGNAL)).alias("signals")),
                totals.filter(flagged).with_columns(listed.alias("signals")),
            ]
        )
        .select(SCORES.names())
        .cast(SCORES)
    )


# Feed categories another detector types: a domain they name is left to it.
OTHER_FEEDS = pl.col("domain_feed_category").is_not_null() & (
    pl.col("domain_feed_category") != MALICIOUS_CATEGORY
)
CANDIDATE = (
    pl.col("domain").is_not_null()
    & ~pl.col("domain_trusted").fill_null(False)
    & pl.col("domain_custom_list").is_null()
)


@detectors.register(
    "dns.reputation", source="dns", emits=(MALICIOUS, SUSPICIOUS, ABUSED, BITCOIN), prefilter=CANDIDATE
)
def reputation(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    rows = queries.filter(CANDIDATE)
    if rows.is_empty():
        return no_hits()
    distinct = rows.select("domain", "domain_feed_category", "domain_feed").unique(
        "domain", maintain_order=True
    )
    seeds = pl.Series(list(reputation_data().seeds), dtype=pl.String)
    seeded = pl.col("domain").is_in(seeds.implode()) | pl.any_horizontal(
        pl.col("domain").str.ends_with("." + s) for s in seeds.to_list()
    )
    scored = score_domains(distinct.filter(~OTHER_FEEDS | seeded), ctx).filter(
        pl.col("category").is_not_null()
    )
    if scored.is_empty():
        return no_hits()
    resolved = pl.col("rcode").fill_null("NOERROR") == "NOERROR"
    flagged = (
        rows.join(scored, on="domain", how="inner")
        .filter(pl.col("listed") | resolved)
        .with_columns(pl.coalesce("instance_id", "srcaddr").alias("resource"))
    )
    info = pl.struct(
        pl.col("site").alias("reputationSite"),
        pl.col("score").alias("reputationScore"),
        pl.lit(ctx.settings.reputation_min_score).alias("reputationMinScore"),
        pl.col("signals").alias("reputationSignals"),
        pl.when(pl.col("seed").is_not_null())
        .then(pl.lit("reputation list"))
        .when(pl.col("domain_feed_category") == MALICIOUS_CATEGORY)
        .then(pl.lit("feed"))
        .otherwise(pl.lit("score"))
        .alias("decidedBy"),
        pl.when(pl.col("domain_feed_category") == MALICIOUS_CATEGORY)
        .then(pl.col("domain_feed"))
        .alias("threatListName"),
    ).struct.json_encode()
    found = [
        hits(
            flagged.filter(pl.col("category") == name),
            ftype,
            key=("resource", "site"),
            resource_role="ACTOR",
            info=info,
        )
        for name, ftype in TYPES.items()
    ]
    return pl.concat(found, how="vertical")
