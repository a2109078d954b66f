"""Splitting names at the public suffix, the infrastructure allowlist and label features."""

from __future__ import annotations

import polars as pl
import pytest
from publicsuffixlist import PublicSuffixList

from keibi.detect.dns._dga_model import dga_model
from keibi.detect.dns._lexical import FEATURES, INFRASTRUCTURE_SUFFIXES, label_features, split_domains

NAMES = [
    "x7kq2.cdn.example.co.uk",
    "www.city.kobe.jp",
    "a.b.kobe.jp",
    "api.github.com",
    "foo.bar.baz.blogspot.com",
    "xn--80ak6aa92e.com",
    "s3.dualstack.us-east-1.amazonaws.com",
    "www.bbc.co.uk",
    "mail.gov.au",
    "shop.example.com.br",
]


@pytest.mark.parametrize("name", NAMES)
def test_registrable_domain_matches_publicsuffixlist(name: str) -> None:
    psl = PublicSuffixList(only_icann=True)
    split = split_domains(pl.Series([name]))
    assert split["registrable"][0] == psl.privatesuffix(name)


def test_names_without_a_public_suffix_have_no_label() -> None:
    split = split_domains(pl.Series(["pypi.org.ec2.internal", "qwhdkfjs", "com", "api.svc.cluster.local"]))
    assert split["label"].to_list() == [None, None, None, None]


def test_infrastructure_names_are_flagged() -> None:
    names = [
        "d1abc2xyz3def4.cloudfront.net",
        "ec2-54-1-2-3.compute-1.amazonaws.com",
        "e12345.a.akamaiedge.net",
        "ns-1536.awsdns-00.co.uk",
        "awsdns-cn-07.com",
        "r3---sn-ab5l6n7s.googlevideo.com",
        "mozilla.cloudflare-dns.com",
        "dns.google",
        "9.8.7.6.in-addr.arpa",
    ]
    split = split_domains(pl.Series(names))
    assert split["infrastructure"].all(), split.filter(~pl.col("infrastructure"))["domain"].to_list()
    assert not split_domains(pl.Series(["github.com"]))["infrastructure"][0]
    assert len(set(INFRASTRUCTURE_SUFFIXES)) == len(INFRASTRUCTURE_SUFFIXES)


def test_label_features_by_hand() -> None:
    feats = label_features(pl.Series(["ab12-cd", "_dmarc", "aaaa"]), dga_model().bigrams)
    assert feats["label"].to_list() == ["ab12-cd", "aaaa"]  # _dmarc is no host-name label
    row = feats.row(0, named=True)
    assert row["length"] == 7
    assert row["digit_ratio"] == pytest.approx(2 / 7)
    assert row["vowel_ratio"] == pytest.approx(1 / 4)
    assert row["consonant_run"] == 2
    assert row["hyphens"] == 1
    assert row["switches"] == 2  # b→1 and 2→-: digit to non-digit and back
    assert feats.row(1, named=True)["entropy"] == 0.0
    assert list(feats.columns) == ["label", *FEATURES]
