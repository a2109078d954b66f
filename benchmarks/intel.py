"""Threat-list matching at scale: 5 million IP/CIDR entries and 1 million domains against
10 million flow records and 1 million DNS queries.

    .venv/bin/python benchmarks/intel.py [--ip-entries 5000000] [--domains 1000000]
        [--flow-records 10000000] [--dns-queries 1000000] [--workdir benchmarks/out] [--no-scan]

1. Input: the flow and DNS files of ``benchmarks/run.py`` (``<workdir>/data/<source>/``,
   generated when missing). Lists: ``<workdir>/intel/big-ips.txt`` and ``big-domains.txt``
   in GuardDuty's TXT format, generated once and cached (a stamp records how). The IP list
   is 96.8% IPv4 ``/32``, 1% ``/24``, 2,000 ``/20``-``/23`` and 50 ``/16``-``/19`` (together
   about 0.5% of the IPv4 space, so random public addresses rarely hit by chance), and 2.2%
   IPv6 (``/128``, ``/64``, ``/48``, ``/32``); private first octets (0, 10, 127, 172, 192)
   and multicast are left out, as real lists leave them out. A sample of the traffic's own rarer public addresses
   (2,000 as ``/32``, 20 as their ``/24``) and query names (100) is planted, so lookups hit
   and the join-back path runs.
2. Load (fresh process): ``load_txt`` of both lists, then building the match tables once;
   seconds, RSS growth, peak RSS, and the tables' sizes.
3. Lookup alone (fresh process, once with the big lists and once with only the tester's
   lists): files read with keibi's readers into 250,000-row batches as ``keibi scan`` does
   (reading not timed), then ``Intel.lookup`` timed per batch, and ``enrich`` as a whole.
   RSS is sampled after every batch: it must not grow with the number of batches.
4. Scan: ``keibi scan`` end-to-end (as ``benchmarks/run.py`` runs it, with the tester's
   lists and feeds) without the big lists, with them as TXT files, and with them in the
   store, each as a first scan and as a later one (parsed files and built match tables
   cached in the store), against the parse-only baseline of the same files. One variant
   uses lists of the same size whose addresses lie outside the traffic's address space
   (``<workdir>/intel/unplanted/``): the cost of list size alone. The others cover ~0.5% of
   public IPv4 plus planted traffic addresses, so ~0.7% of flow records hit a list and a scan
   raises thousands of findings, whose building and storing then dominate; each on all the files and on
   half of them, whose difference gives the marginal rate (the one-off list load and table
   build left out). The target for flow logs: end-to-end at least half of parse-only.

Results go to ``<workdir>/intel/results.json``; a markdown summary goes to stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from keibi.enrich import enrich
from keibi.enrich.intel import dns_domain
from keibi.enrich.network import flow_addresses, flow_sides
from keibi.intel import Intel, IntelList, is_private, load_txt, normalise_domain
from keibi.sources import Report, plan, read

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import _RUNNER, FEEDS, ensure_data, half_of, keibi_command, log_files, parse_only

BATCH_ROWS = 250_000
GENERATOR = 5  # bump when the generated lists change, to regenerate cached ones
PLANTED = "."  # the big lists, with the planted traffic addresses and names
UNPLANTED = "unplanted"  # lists of the same size that nothing in the traffic is on
PRIVATE_FIRST_OCTETS = frozenset({0, 10, 127, 172, 192})
QUIET_FIRST_OCTETS = (100, 169)  # never a public address of the tester's traffic (keibi.tester.flowlogs)
TLDS = ("com", "net", "org", "ru", "xyz", "top", "info", "io", "cn", "de", "biz", "online")


def rss_mb() -> float:
    """Current resident set size (Linux), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- lists --------------------------------------------------------------------------------


def traffic_sample(root: Path, source: str, every: int) -> list[str]:
    """Public remote addresses (flow) or query names (DNS) seen in every ``every``-th file, the
    rarer half only: planting a resolver endpoint or a busy NAT address would put a large share
    of the traffic on the list, which no real list does."""
    report = Report()
    planned = plan([str(root / "AWSLogs")], report)[::every]
    values: list[pl.Series] = []
    for item in planned:
        for frame in read(item, report, batch_rows=BATCH_ROWS):
            if source == "vpc_flow":
                values += [frame["srcaddr"], frame["dstaddr"]]
            else:
                values.append(frame.select(normalise_domain(pl.col("query_name"))).to_series())
    counts = pl.concat(values).drop_nulls().rename("value").value_counts(name="n").sort("value")
    if source == "vpc_flow":
        counts = counts.filter(~is_private(counts["value"]).fill_null(True))
    return counts.filter(pl.col("n") <= pl.col("n").median())["value"].to_list()


def ip_entries(n: int, rng: random.Random, planted: list[str], *, off_traffic: bool = False) -> list[str]:
    """``off_traffic``: IPv4 entries only in 100.0.0.0/8 and 169.0.0.0/8 outside their
    non-routable parts, where the tester never puts a public address (``QUIET_FIRST_OCTETS``)."""

    def v4() -> str:
        while True:
            x = rng.getrandbits(32)
            if off_traffic:
                x = (rng.choice(QUIET_FIRST_OCTETS) << 24) | (x & 0xFFFFFF)
                if (x >> 22) == (100 << 2 | 1) or (x >> 16) == (169 << 8 | 254):  # 100.64/10, 169.254/16
                    continue
                return f"{x >> 24}.{x >> 16 & 255}.{x >> 8 & 255}.{x & 255}"
            if x >> 24 not in PRIVATE_FIRST_OCTETS and x >> 24 < 224:
                return f"{x >> 24}.{x >> 16 & 255}.{x >> 8 & 255}.{x & 255}"

    def v6() -> str:
        h = (0x2 << 124) | rng.getrandbits(124)  # 2000::/3, global unicast
        text = ":".join(f"{h >> (112 - 16 * k) & 0xFFFF:x}" for k in range(8))
        plen = rng.choice((128, 128, 64, 48, 32))
        return text if plen == 128 else f"{text}/{plen}"

    out = list(planted)
    while len(out) < n:
        roll = rng.random()
        if roll < 0.968:
            out.append(v4())
        elif roll < 0.978:
            out.append(f"{v4()}/24")
        elif roll < 0.9784:
            out.append(f"{v4()}/{rng.randint(20, 23)}")
        elif roll < 0.97841:
            out.append(f"{v4()}/{rng.randint(16, 19)}")
        else:
            out.append(v6())
    rng.shuffle(out)
    return out


def domain_entries(n: int, rng: random.Random, planted: list[str]) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = list(planted)
    while len(out) < n:
        name = "".join(rng.choices(alphabet, k=rng.randint(5, 14)))
        name = f"{name}-{rng.choice(('login', 'cdn', 'pay', 'mail'))}" if rng.random() < 0.2 else name
        name = f"{name}.{rng.choice(TLDS)}"
        if rng.random() < 0.3:
            name = f"{rng.choice(('www', 'cdn', 'mail', 'login', 'api', 'update'))}.{name}"
        out.append(name)
    rng.shuffle(out)
    return out


def ensure_lists(workdir: Path, n_ips: int, n_domains: int, flow_root: Path, dns_root: Path) -> Path:
    """``big-ips.txt`` and ``big-domains.txt`` in ``workdir``, generated unless cached."""
    stamp = workdir / "lists.json"
    want = {
        "generator": GENERATOR,
        "ip_entries": n_ips,
        "domains": n_domains,
        "flow": str(flow_root),
        "dns": str(dns_root),
    }
    if stamp.is_file() and {k: v for k, v in json.loads(stamp.read_text()).items() if k in want} == want:
        return workdir
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"generating {n_ips:,} IP/CIDR entries and {n_domains:,} domains …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    rng = random.Random(20261101)
    v4 = [a for a in traffic_sample(flow_root, "vpc_flow", every=8) if ":" not in a]
    planted_ips = rng.sample(v4, min(2000, len(v4)))
    planted_ips += [f"{a.rsplit('.', 1)[0]}.0/24" for a in rng.sample(v4, min(20, len(v4)))]
    names = [n for n in traffic_sample(dns_root, "dns", every=4) if n.count(".") >= 2]
    planted_domains = rng.sample(names, min(100, len(names)))
    header = "# keibi benchmark list: random entries plus some planted from the benchmark traffic\n"
    ips = ip_entries(n_ips, rng, planted_ips)
    (workdir / "big-ips.txt").write_text(header + "\n".join(ips) + "\n")
    domains = domain_entries(n_domains, rng, planted_domains)
    (workdir / "big-domains.txt").write_text(header + "\n".join(domains) + "\n")
    # Lists of the same size and shape that nothing in the traffic is on: list size alone.
    quiet = workdir / UNPLANTED
    quiet.mkdir(exist_ok=True)
    header = "# keibi benchmark list: random entries outside the traffic's address space\n"
    ips = ip_entries(n_ips, rng, [], off_traffic=True)
    (quiet / "big-ips.txt").write_text(header + "\n".join(ips) + "\n")
    domains = domain_entries(n_domains, rng, [])
    (quiet / "big-domains.txt").write_text(header + "\n".join(domains) + "\n")
    took = time.perf_counter() - started
    stamp.write_text(
        json.dumps(
            {
                **want,
                "planted_ips": len(planted_ips),
                "planted_domains": len(planted_domains),
                "seconds": took,
            }
        )
    )
    print(f"  done in {took:.1f} s", file=sys.stderr, flush=True)
    return workdir


# --- load and lookup (run in a fresh process) ---------------------------------------------


def tester_intel(lists: Path, extra: list[IntelList]) -> Intel:
    """The lists ``keibi scan`` gets in ``benchmarks/run.py``, plus ``extra`` threat lists."""
    feeds = [load_txt(lists / name, category=cat) for cat, name in FEEDS if (lists / name).exists()]
    return Intel.with_builtin_feeds(
        threat=[load_txt(lists / "threat.txt"), *extra],
        trusted=[load_txt(lists / "trusted.txt", kind="trusted")],
        feeds=feeds,
    )


def measure(big_lists: Path | None, flow_root: Path, dns_root: Path) -> dict[str, Any]:
    """Load (when ``big_lists``), then lookup and enrichment timings per source."""
    gc.collect()
    result: dict[str, Any] = {"rss_start_mb": round(rss_mb(), 1)}
    extra: list[IntelList] = []
    if big_lists is not None:
        before = rss_mb()
        t = time.perf_counter()
        extra = [load_txt(big_lists / "big-ips.txt"), load_txt(big_lists / "big-domains.txt")]
        loaded = time.perf_counter() - t
        result["load"] = {
            "seconds": round(loaded, 2),
            "entries": {lst.name: len(lst) for lst in extra},
            "problems": sum(len(lst.problems) for lst in extra),
            "list_tables_mb": round(sum(_list_size(lst) for lst in extra) / 1e6, 1),
            "rss_growth_mb": round(rss_mb() - before, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    intel = tester_intel(flow_root / "lists", extra)
    t = time.perf_counter()
    matchers = [intel.matcher(lists) for lists in (intel.trusted, intel.threat, intel.feeds)]
    result["build"] = {
        "seconds": round(time.perf_counter() - t, 2),
        "match_tables_mb": round(sum(m.estimated_size() for m in matchers) / 1e6, 1),
        "rss_after_mb": round(rss_mb(), 1),
    }
    for source, root in (("vpc_flow", flow_root), ("dns", dns_root)):
        result[source] = _match_source(intel, source, root)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def _list_size(lst: IntelList) -> int:
    return int(lst.ipv4.estimated_size() + lst.ipv6.estimated_size() + lst.domains.estimated_size())


def _batches(root: Path) -> Iterator[pl.DataFrame]:
    """Batches of about ``BATCH_ROWS`` rows, as ``Engine.feed`` buffers them."""
    report = Report()
    frames: list[pl.DataFrame] = []
    rows = 0
    for item in plan([str(root / "AWSLogs")], report):
        for frame in read(item, report, batch_rows=BATCH_ROWS):
            frames.append(frame)
            rows += frame.height
            if rows >= BATCH_ROWS:
                yield pl.concat(frames)
                frames, rows = [], 0
    if frames:
        yield pl.concat(frames)


def _match_source(intel: Intel, source: str, root: Path) -> dict[str, Any]:
    lookup_ms: list[float] = []
    enrich_s = 0.0
    records = hits = distinct = 0
    rss: list[float] = []
    for batch in _batches(root):
        records += batch.height
        if source == "vpc_flow":
            table = flow_addresses(batch)
            values = flow_sides(batch, table)["remote_ip"]
            distinct += table.height
            t = time.perf_counter()
            found = intel.lookup(values, kind="ip", prefix="remote", table=table)
        else:
            values = dns_domain(batch)["domain"]
            distinct += values.n_unique()
            t = time.perf_counter()
            found = intel.lookup(values, kind="domain", prefix="domain")
        lookup_ms.append((time.perf_counter() - t) * 1000)
        hits += int(found[found.columns[1]].is_not_null().sum())  # <prefix>_custom_list
        t = time.perf_counter()
        enrich(batch, source, intel)  # type: ignore[arg-type]
        enrich_s += time.perf_counter() - t
        del batch, found, values
        rss.append(rss_mb())
    total = sum(lookup_ms) / 1000
    return {
        "records": records,
        "batches": len(lookup_ms),
        "distinct_per_batch": round(distinct / max(1, len(lookup_ms))),
        "rows_on_a_list": int(hits),
        "lookup_ms_mean": round(statistics.fmean(lookup_ms), 1),
        "lookup_ms_median": round(statistics.median(lookup_ms), 1),
        "lookup_ms_max": round(max(lookup_ms), 1),
        "lookup_records_per_s": round(records / total),
        "enrich_records_per_s": round(records / enrich_s),
        "rss_first_batch_mb": round(rss[0], 1),
        "rss_last_batch_mb": round(rss[-1], 1),
        "rss_max_mb": round(max(rss), 1),
    }


def in_fresh_process(big_lists: Path | None, flow_root: Path, dns_root: Path) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, big_lists, flow_root, dns_root).result()


# --- keibi scan ---------------------------------------------------------------------------


def scan(
    command: list[str], target: Path, lists: Path, big: Path | None, *, stored: bool, warm: bool
) -> dict[str, Any]:
    """Wall seconds and peak RSS of one ``keibi scan`` in a fresh process and data directory.

    ``big``: the big lists, passed as ``--threat-list`` files (parsed from TXT by the scan) or,
    when ``stored``, added to the store first (``keibi intel add``, not timed) so the scan
    loads them from their stored tables, as it does for lists an operator keeps there.
    ``warm``: ``keibi intel lookup`` with the same lists runs first (not timed), leaving in the
    store what an earlier scan would (parsed big files, built match tables), as on every scan
    after an operator's first.
    """
    with tempfile.TemporaryDirectory(prefix="keibi-bench-") as data_dir:
        env = dict(os.environ, KEIBI_DATA_DIR=data_dir)
        env.pop("KEIBI_DATABASE_URL", None)
        env.pop("KEIBI_CONFIG", None)
        args = [*command, "scan", str(target), "--format", "json", "--output", "/dev/null", "--no-progress"]
        args += ["--threat-list", str(lists / "threat.txt"), "--trusted-list", str(lists / "trusted.txt")]
        for category, name in FEEDS:
            if (lists / name).exists():
                args += ["--feed", f"{category}={lists / name}"]
        for name in ("big-ips", "big-domains"):
            if big is None:
                break
            if stored:
                add = [*command, "intel", "add", name, str(big / f"{name}.txt")]
                subprocess.run(add, capture_output=True, env=env, cwd=data_dir, check=True)
            else:
                args += ["--threat-list", str(big / f"{name}.txt")]
        if warm:
            lookup = [*command, "intel", "lookup", "192.0.2.1", *args[args.index("--threat-list") :]]
            subprocess.run(lookup, capture_output=True, env=env, cwd=data_dir, check=True)
        out = subprocess.run(
            [sys.executable, "-c", _RUNNER, *args], capture_output=True, env=env, cwd=data_dir, check=True
        )
    report = json.loads(out.stdout)
    if report["returncode"] not in (0, 3):
        raise RuntimeError(f"keibi scan exited {report['returncode']}: {report['stderr'][-500:]}")
    return {"seconds": round(report["wall"], 2), "peak_rss_mb": round(report["maxrss_kb"] / 1024, 1)}


SCAN_VARIANTS: dict[str, tuple[str | None, bool, bool]] = {  # name -> (big lists, stored, warm)
    "tester lists": (None, False, False),
    "+ big lists, none in the traffic (in the store, cached)": (UNPLANTED, True, True),
    "+ big lists (TXT files, first scan)": (PLANTED, False, False),
    "+ big lists (TXT files, cached)": (PLANTED, False, True),
    "+ big lists (in the store, first scan)": (PLANTED, True, False),
    "+ big lists (in the store, cached)": (PLANTED, True, True),
}


def scans(command: list[str], source: str, root: Path, big: Path, workdir: Path) -> dict[str, Any]:
    """Each :data:`SCAN_VARIANTS` on all the files and on half of them. The difference between
    the two is the marginal rate: records per second once lists are loaded and tables built."""
    files = log_files(root)
    events, _, parse_s = parse_only(source, files)  # type: ignore[arg-type]
    half = half_of(root, files, workdir)
    half_events, _, _ = parse_only(source, log_files(half))  # type: ignore[arg-type]
    out: dict[str, Any] = {"events": events, "parse_only_per_s": round(events / parse_s)}
    for name, (which, stored, warm) in SCAN_VARIANTS.items():
        lists = None if which is None else big / which
        full = scan(command, root / "AWSLogs", root / "lists", lists, stored=stored, warm=warm)
        part = scan(command, half / "AWSLogs", root / "lists", lists, stored=stored, warm=warm)
        marginal = (events - half_events) / max(1e-9, full["seconds"] - part["seconds"])
        out[name] = {
            **full,
            "per_s": round(events / full["seconds"]),
            "ratio": round(events / full["seconds"] / out["parse_only_per_s"], 3),
            "half_seconds": part["seconds"],
            "marginal_per_s": round(marginal),
            "marginal_ratio": round(marginal / out["parse_only_per_s"], 3),
        }
    return out


# --- report -------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    big, small = results["lookup_with"], results["lookup_without"]
    load, build = big["load"], big["build"]
    label = "+ " + " + ".join(f"{k} ({v:,})" for k, v in load["entries"].items())
    lines = [
        f"Lists: {', '.join(f'{k} {v:,}' for k, v in load['entries'].items())} entries; "
        f"load (TXT parse) {load['seconds']} s, match tables built in {build['seconds']} s; "
        f"list tables {load['list_tables_mb']} MB + match tables {build['match_tables_mb']} MB; "
        f"RSS +{load['rss_growth_mb']} MB on load, peak {load['peak_rss_mb']} MB.",
        "",
        "| source | lists | records | distinct/batch | rows on a list | lookup ms/batch (mean / median / max) "
        "| lookup records/s | enrich records/s | RSS first / last / max batch MB |",
        "|" + "---|" * 9,
    ]
    for source in ("vpc_flow", "dns"):
        for name, r in (("tester only", small[source]), (label, big[source])):
            lines.append(
                f"| {source} | {name} | {r['records']:,} | {r['distinct_per_batch']:,} | {r['rows_on_a_list']:,} "
                f"| {r['lookup_ms_mean']} / {r['lookup_ms_median']} / {r['lookup_ms_max']} "
                f"| {r['lookup_records_per_s']:,} | {r['enrich_records_per_s']:,} "
                f"| {r['rss_first_batch_mb']:,.0f} / {r['rss_last_batch_mb']:,.0f} / {r['rss_max_mb']:,.0f} |"
            )
    if "scan" in results:
        lines += [
            "",
            "keibi scan: events/s and end-to-end / parse-only (marginal: all files minus half of "
            "them, i.e. without the one-off list load and table build), peak RSS MB.",
            "",
            "| source | parse-only events/s | " + " | ".join(SCAN_VARIANTS) + " |",
            "|---|---|" + "---|" * len(SCAN_VARIANTS),
        ]
        for source, s in results["scan"].items():
            cells = [
                f"{s[k]['per_s']:,} ({s[k]['ratio']:.2f}; marginal {s[k]['marginal_ratio']:.2f}; "
                f"{s[k]['peak_rss_mb']:,.0f} MB)"
                for k in SCAN_VARIANTS
            ]
            lines.append(f"| {source} | {s['parse_only_per_s']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--ip-entries", type=int, default=5_000_000)
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--flow-records", type=int, default=10_000_000)
    parser.add_argument("--dns-queries", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--no-scan", action="store_true", help="skip the end-to-end keibi scan runs")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    flow_root = ensure_data(workdir, "vpc_flow", args.flow_records)
    dns_root = ensure_data(workdir, "dns", args.dns_queries)
    big = ensure_lists(workdir / "intel", args.ip_entries, args.domains, flow_root, dns_root)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "polars": pl.__version__},
        "lookup_without": in_fresh_process(None, flow_root, dns_root),
        "lookup_with": in_fresh_process(big, flow_root, dns_root),
    }
    print(json.dumps(results["lookup_with"]), file=sys.stderr, flush=True)
    command = None if args.no_scan else keibi_command()
    if command is not None:
        results["scan"] = {
            source: scans(command, source, root, big, workdir)
            for source, root in (("vpc_flow", flow_root), ("dns", dns_root))
        }
    (big / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
