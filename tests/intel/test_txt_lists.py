"""GuardDuty TXT lists: entries, comments, wildcards, and errors that say where."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from keibi.errors import ConfigError
from keibi.intel import IntelList, load_txt, mining_pools
from keibi.intel.addresses import v4_to_int
from keibi.intel.feeds import MINING_POOLS_FEED
from keibi.intel.lists import MAX_PROBLEMS

LIST = """\
# SOC threat list, exported 2024-03-05
198.51.100.7
203.0.113.0/24   # whole range

10.1.2.3/8
*.Evil.Example
badsite.example.net.
2001:db8::/32
2001:DB8:0:0:1::5
   # indented comment
"""


def test_entries_of_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "soc-list.txt"
    path.write_text(LIST)
    lst = load_txt(path)
    assert (lst.name, lst.kind, lst.category, lst.builtin) == ("soc-list", "threat", "custom", False)
    assert lst.ipv4.rows() == [
        (v4_to_int("198.51.100.7"), 32),
        (v4_to_int("203.0.113.0"), 24),
        (v4_to_int("10.0.0.0"), 8),  # host bits of a CIDR are masked off
    ]
    assert lst.domains["domain"].to_list() == ["evil.example", "badsite.example.net"]
    assert lst.domains["labels"].to_list() == [2, 3]
    assert lst.ipv6.rows() == [(0x20010DB800000000, 0, 32), (0x20010DB800000000, 0x0001000000000005, 128)]
    assert len(lst) == 7
    assert lst.problems == () and lst.version is None


def test_a_gzipped_list_reads_as_its_text(tmp_path: Path) -> None:
    plain, packed = tmp_path / "soc-list.txt", tmp_path / "soc-list.txt.gz"
    plain.write_text(LIST)
    packed.write_bytes(gzip.compress(LIST.encode()))
    assert load_txt(packed).ipv4.rows() == load_txt(plain).ipv4.rows()
    assert len(load_txt(packed)) == 7
    packed.write_bytes(gzip.compress(LIST.encode())[:40])
    with pytest.raises(ConfigError, match=r"^cannot read threat list .*soc-list\.txt\.gz: truncated gzip"):
        load_txt(packed)


def test_bom_crlf_and_name_override(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf198.51.100.7\r\nevil.example\r\n")
    lst = load_txt(path, name="Partner IPs", kind="trusted")
    assert (lst.name, lst.kind, len(lst)) == ("Partner IPs", "trusted", 2)


def test_duplicates_are_kept_once() -> None:
    lst = IntelList.from_entries(
        "dups", ["198.51.100.7", "198.51.100.7/32", "evil.example", "*.evil.example"]
    )
    assert len(lst) == 2


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("foo bar", "'foo bar'"),
        ("1.2.3.999", "'1.2.3.999'"),
        ("198.51.100.0/33", "'198.51.100.0/33'"),
        ("http://evil.example/x", "'http://evil.example/x'"),
        ("evil.example/24", "'evil.example/24'"),
        ("1::2::3", "'1::2::3'"),
        ("198.51.100.0/24/8", "'198.51.100.0/24/8'"),
    ],
)
def test_bad_line_is_skipped_and_named(tmp_path: Path, line: str, shown: str) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# header\n198.51.100.7\n\n" + line + "\nevil.example\n")
    lst = load_txt(path)
    assert [str(p) for p in lst.problems] == [f"{path}:4: not an IP, CIDR or domain: {shown}"]
    assert (lst.problems[0].path, lst.problems[0].line) == (str(path), 4)
    # the good entries on either side still load
    assert lst.ipv4.rows() == [(v4_to_int("198.51.100.7"), 32)]
    assert lst.domains["domain"].to_list() == ["evil.example"]


def test_problems_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"bad entry {i}\n" for i in range(MAX_PROBLEMS + 25)) + "198.51.100.7\n")
    lst = load_txt(path)
    assert len(lst) == 1
    assert len(lst.problems) == MAX_PROBLEMS + 1
    assert str(lst.problems[0]) == f"{path}:1: not an IP, CIDR or domain: 'bad entry 0'"
    assert str(lst.problems[-1]) == f"{path}: 25 more bad entries skipped (not listed)"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(ConfigError) as err:
        load_txt(path)
    assert str(err.value) == f"cannot read threat list {path}: No such file or directory"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"198.51.100.7\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"^cannot read trusted list .*list\.txt: "):
        load_txt(path, kind="trusted")


def test_shipped_mining_pool_feed() -> None:
    feed = mining_pools()
    assert (feed.name, feed.category, feed.builtin, feed.kind) == (
        MINING_POOLS_FEED,
        "CryptoCurrency",
        True,
        "threat",
    )
    domains = set(feed.domains["domain"].to_list())
    assert {
        "moneropool.ru",
        "nanopool.org",
        "supportxmr.com",
        "moneroocean.stream",
        "nicehash.com",
    } <= domains
    assert len(domains) >= 150
    assert feed.ipv4.is_empty() and feed.ipv6.is_empty()
