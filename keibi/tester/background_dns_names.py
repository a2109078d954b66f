"""Benign DNS background for the DGA and reputation detectors: machine-made names at scale.

Real fleets resolve thousands of names that look generated and are not: CloudFront
distributions, S3 buckets, API Gateway and Lambda URLs, VPC endpoints, load balancers, EC2
host names, Akamai edges, Azure blobs, YouTube caches, Route 53 name servers; DNS-over-HTTPS
resolvers; and failures that look like a DGA's, such as deleted CloudFront distributions and
buckets answering NXDOMAIN by the hundred, search-domain expansions (``*.ec2.internal``,
``*.svc.cluster.local``) and a headless browser's random single-label probes. Beside them,
names with one low-reputation signal and no second: a home lab on dynamic DNS, the NTP pool,
``abc.xyz``, exchanges' APIs, ad-tech names a character model finds odd. All of it must raise
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.dnslogs import answers_json, queries
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import arange, where

_ALNUM: Final = pl.Series(list("abcdefghijklmnopqrstuvwxyz0123456789"))
_HEX: Final = pl.Series(list("0123456789abcdef"))
_LOWER: Final = pl.Series(list("abcdefghijklmnopqrstuvwxyz"))

# Names with one low-reputation signal each (or a random look on a plain TLD), resolved often.
_ONE_SIGNAL: Final = (
    "myhome.duckdns.org",
    "www.duckdns.org",
    "dynupdate.no-ip.com",
    "pool.ntp.org",
    "0.amazon.pool.ntp.org",
    "2.debian.pool.ntp.org",
    "abc.xyz",
    "api.binance.com",
    "api.coinbase.com",
    "www.paypal.com",
    "login.microsoftonline.com",
    "secure.login.gov",
    "ib.adnxs.com",
    "s0.2mdn.net",
    "cdn.emxdgt.com",
    "tags.tiqcdn.com",
    "xueqiu.com",
    "docs.github.io",
    "status.vercel.app",
    "nextjs.org",
)
_DOH: Final = (
    "dns.google",
    "cloudflare-dns.com",
    "mozilla.cloudflare-dns.com",
    "dns.quad9.net",
    "doh.opendns.com",
    "dns.nextdns.io",
    "dns.adguard-dns.com",
)


def _n(run: Run, base: float) -> int:
    return max(1, int(base * run.scale))


def _random(run: Run, n: int, lo: int, hi: int, alphabet: pl.Series = _ALNUM) -> pl.Series:
    """``n`` random strings of ``alphabet``, each ``lo``..``hi - 1`` characters long."""
    lengths = run.vec.integers(lo, hi, n)
    total = int(lengths.sum())
    chars = alphabet.gather(run.vec.integers(0, alphabet.len(), total))
    owner = pl.Series(range(n)).repeat_by(lengths).explode()
    return (
        pl.DataFrame({"row": owner, "c": chars})
        .group_by("row", maintain_order=True)
        .agg(pl.col("c").str.join(""))["c"]
    )


def _ips(run: Run, n: int, first: tuple[int, ...]) -> pl.Series:
    octet = pl.Series(first).gather(run.vec.integers(0, len(first), n)).cast(pl.String)
    rest = [run.vec.integers(0, 256, n).cast(pl.String) for _ in range(2)]
    last = run.vec.integers(1, 255, n).cast(pl.String)
    return pl.select(pl.concat_str([octet, *rest, last], separator=".")).to_series()


def _answers(ips: pl.Series) -> pl.Series:
    return pl.select(pl.format('[{{"Rdata":"{}","Type":"A","Class":"IN"}}]', pl.lit(ips))).to_series()


def _pool(run: Run) -> pl.DataFrame:
    """``query_name``, ``rcode``, ``answers``, ``weight``: every name of this background."""
    k = max(20, _n(run, 600))
    account = run.world.account_id
    region = run.world.region
    parts = {
        "cloudfront": pl.lit("d") + pl.lit(_random(run, k, 13, 14)) + pl.lit(".cloudfront.net"),
        "s3": pl.lit(_random(run, k, 8, 24, _LOWER)) + pl.lit(f"-{account}.s3.{region}.amazonaws.com"),
        "api": pl.lit(_random(run, k, 10, 11)) + pl.lit(f".execute-api.{region}.amazonaws.com"),
        "lambda": pl.lit(_random(run, k, 32, 33)) + pl.lit(f".lambda-url.{region}.on.aws"),
        "vpce": pl.lit("vpce-")
        + pl.lit(_random(run, k, 17, 18, _HEX))
        + pl.lit("-")
        + pl.lit(_random(run, k, 8, 9))
        + pl.lit(f".s3.{region}.vpce.amazonaws.com"),
        "akamai": pl.lit("e")
        + pl.lit(run.vec.integers(1000, 99999, k).cast(pl.String))
        + pl.lit(".a.akamaiedge.net"),
        "azure": pl.lit(_random(run, k, 12, 24, _LOWER)) + pl.lit(".blob.core.windows.net"),
        "youtube": pl.lit("rr")
        + pl.lit(run.vec.integers(1, 6, k).cast(pl.String))
        + pl.lit("---sn-")
        + pl.lit(_random(run, k, 8, 9))
        + pl.lit(".googlevideo.com"),
        "route53": pl.lit("ns-")
        + pl.lit(run.vec.integers(1, 2048, k).cast(pl.String))
        + pl.lit(".awsdns-")
        + pl.lit(run.vec.integers(0, 64, k).cast(pl.String).str.zfill(2))
        + pl.lit(".org"),
    }
    resolved = pl.concat([pl.select(expr.alias("query_name")) for expr in parts.values()])
    resolved = resolved.with_columns(
        pl.lit("NOERROR").alias("rcode"),
        _answers(_ips(run, resolved.height, (13, 18, 52, 54, 104, 142, 172))).alias("answers"),
        pl.lit(1.0).alias("weight"),
    )
    fixed = pl.DataFrame(
        {
            "query_name": [*_ONE_SIGNAL, *_DOH],
            "rcode": "NOERROR",
            "answers": [
                answers_json([f"104.16.{i}.{i + 10}"], "A") for i in range(len(_ONE_SIGNAL) + len(_DOH))
            ],
            "weight": 20.0,
        }
    )
    failing = pl.concat(
        [
            pl.select(
                (pl.lit("d") + pl.lit(_random(run, k, 13, 14)) + pl.lit(".cloudfront.net")).alias(
                    "query_name"
                )
            ),
            pl.select(
                (
                    pl.lit(_random(run, k, 6, 14, _LOWER))
                    + pl.lit("." + _random(run, 1, 5, 6)[0])
                    + pl.lit(".ec2.internal")
                ).alias("query_name")
            ),
            pl.select((pl.lit(_random(run, k, 7, 16, _LOWER))).alias("query_name")),  # browser probes
            pl.select(
                (
                    pl.lit("api.stripe.com.")
                    + pl.lit(_random(run, k, 4, 9, _LOWER))
                    + pl.lit(".svc.cluster.local")
                ).alias("query_name")
            ),
        ]
    ).with_columns(
        pl.lit("NXDOMAIN").alias("rcode"), pl.lit("[]").alias("answers"), pl.lit(1.0).alias("weight")
    )
    return pl.concat([resolved, fixed, failing]).with_columns(pl.col("query_name") + ".")


def machine_made_names(run: Run) -> Background:
    w, tag = run.world, "background:dns-names"
    pool = _pool(run)
    hosts = [h for h in w.hosts.values() if h.instance_id is not None]
    n = _n(run, 30000)
    picks = run.vec.choice(arange(0, pool.height), n, pool["weight"])
    chosen = pool.select(pl.all().gather(picks))
    who = run.vec.integers(0, len(hosts), n)
    run.dns.append(
        queries(
            time=run.times(n, run.start, run.end - run.start),
            query_name=chosen["query_name"],
            query_type=where(run.vec.random(n) < 0.8, "A", "AAAA"),
            rcode=chosen["rcode"],
            answers=chosen["answers"],
            srcaddr=pl.Series([h.ip for h in hosts]).gather(who),
            srcport=run.ephemeral(n),
            transport="UDP",
            instance_id=pl.Series([h.instance_id for h in hosts]).gather(who),
            tag=tag,
        )
    )
    # A deploy tears down CloudFront distributions and buckets: the CI runner's smoke tests
    # then ask for 300 names that no longer exist, within half an hour.
    host = w.hosts["ci-runner"]
    m = 300
    gone = pl.select(
        pl.when(arange(m) % 2 == 0)
        .then(pl.lit("d") + pl.lit(_random(run, m, 13, 14)) + pl.lit(".cloudfront.net."))
        .otherwise(pl.lit(_random(run, m, 10, 20, _LOWER)) + pl.lit(f"-preview.s3.{w.region}.amazonaws.com."))
    ).to_series()
    run.queries(
        host,
        time=run.times(m, run.start + 4200, 1800),
        query_name=gone,
        query_type="A",
        rcode="NXDOMAIN",
        answers="[]",
        srcport=run.ephemeral(m),
        tag="background:dns-names/teardown",
    )
    return Background(
        "dns-names",
        "dns",
        "machine-made names (CloudFront, S3, API Gateway, Lambda URLs, VPC endpoints, Akamai, Azure, "
        "YouTube caches, Route 53 name servers), DoH resolvers, NXDOMAIN search-domain expansions and "
        "browser probes, names with a single low-reputation signal; 300 NXDOMAIN CloudFront/S3 names "
        "from one host in half an hour",
    )


DNS_NAMES_BACKGROUND: Final[tuple[Callable[[Run], Background], ...]] = (machine_made_names,)
