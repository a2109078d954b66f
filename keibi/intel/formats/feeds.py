"""Public feed layouts that are not GuardDuty formats: hosts files, URL lists, Spamhaus DROP.

- ``HOSTS``: ``0.0.0.0 ads.example other.example`` (blocklists in hosts-file form, such as
  StevenBlack's). The address is a sinkhole and is ignored; every name after it is a domain
  entry. ``#`` comments and the usual header names (``localhost``, ``broadcasthost``,
  ``ip6-allnodes``…) are skipped.
- ``URL_LIST``: one URL per line (URLhaus, OpenPhish); the entry is the URL's host, an IP
  host staying an IP (``http://[2001:db8::1]:8080/x`` → ``2001:db8::1``). Lines starting with
  ``#`` are comments; a ``#`` later on a line is part of the URL.
- ``SPAMHAUS_DROP``: ``1.10.16.0/20 ; SBL256894`` with ``;`` comments, and the JSON-lines form
  Spamhaus also publishes (``{"cidr": "1.10.16.0/20", "sblid": …}``, its trailing
  ``{"type": "metadata", …}`` line skipped).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.intel.formats._common import candidates, lines, url_host

# Names that every hosts file carries for the machine itself, not blocklist entries.
_HOSTS_BOILERPLATE: Final = (
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
)
# The shape of a hosts-file address (IPv4, or IPv6 with an optional zone such as %lo0).
_HOSTS_ADDRESS: Final = r"^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(%\S+)?)$"


def read_hosts(text: str) -> pl.DataFrame:
    """Candidates of a hosts file: each host name, with the line it is on."""
    frame = lines(text).with_columns(
        body=pl.col("raw").str.split_exact("#", 1).struct.field("field_0").str.strip_chars()
    )
    parts = pl.col("body").str.replace_all(r"\s+", " ").str.splitn(" ", 2)
    frame = frame.filter(pl.col("body") != "").with_columns(
        address_ok=parts.struct.field("field_0").str.contains(_HOSTS_ADDRESS),
        names=parts.struct.field("field_1"),
    )
    bad = frame.filter(~pl.col("address_ok") | pl.col("names").is_null())
    bad = candidates(
        bad,
        line=pl.col("line"),
        shown=pl.col("body"),
        reason=pl.when(pl.col("address_ok"))
        .then(pl.lit("no host name after the address"))
        .otherwise(pl.lit("not a hosts-file line (ADDRESS NAME …)")),
    )
    good = frame.filter(pl.col("address_ok") & pl.col("names").is_not_null()).select("line", "names")
    # Most lines name one host; only the others pay for a split into several rows.
    several = pl.col("names").str.contains(" ", literal=True)
    split = good.filter(several).select("line", pl.col("names").str.split(" ").alias("name")).explode("name")
    names = pl.concat([good.filter(~several).rename({"names": "name"}), split])
    names = names.filter(~pl.col("name").str.to_lowercase().is_in(_HOSTS_BOILERPLATE))
    found = pl.concat([candidates(names, line=pl.col("line"), entry=pl.col("name"), want="domain"), bad])
    return found.sort("line", maintain_order=True) if split.height or bad.height else found


def read_url_list(text: str) -> pl.DataFrame:
    """Candidates of a URL list: each URL's host."""
    frame = lines(text).filter((pl.col("raw") != "") & ~pl.col("raw").str.starts_with("#"))
    return candidates(
        frame, line=pl.col("line"), entry=url_host(pl.col("raw")), shown=pl.col("raw"), want="host"
    )


def read_spamhaus_drop(text: str) -> pl.DataFrame:
    """Candidates of a Spamhaus DROP/EDROP list, text or JSON lines."""
    frame = lines(text).filter((pl.col("raw") != "") & ~pl.col("raw").str.starts_with(";"))
    is_json = pl.col("raw").str.starts_with("{")
    frame = frame.with_columns(
        entry=pl.when(is_json)
        .then(pl.col("raw").str.json_path_match("$.cidr"))
        .otherwise(pl.col("raw").str.split_exact(";", 1).struct.field("field_0").str.strip_chars()),
        metadata=is_json & (pl.col("raw").str.json_path_match("$.type") == "metadata"),
    )
    frame = frame.filter(~pl.col("metadata").fill_null(False))
    return candidates(
        frame,
        line=pl.col("line"),
        entry=pl.col("entry"),
        shown=pl.col("raw"),
        want="ip",
        reason=pl.when(is_json & pl.col("entry").is_null()).then(pl.lit("JSON line without a cidr")),
    )
