"""Domain generation algorithms of real malware families, re-implemented for keibi's DGA model.

The DGA model (``keibi.detect.dns._dga_model``) learns what generated names look like from
these generators, and the tester (``keibi.tester.scenarios_dns_models``) makes an infected
instance query one of them. Each function returns ``n`` names for a seed and a date, the way
the malware derives them, written for keibi after the families' published analyses (Johannes
Bader's DGA write-ups at bin.re / johannesbader.ch, Fortinet on CryptoLocker, and others):
same alphabets, label lengths, top-level domains and kind of pseudo-random generator.

Ports of the published arithmetic: ``necurs``, ``ramnit``, ``pykspa`` (precursor), ``locky``
(v2), ``simda``, ``tinba``, ``cryptolocker`` (keibi adds a ``seed`` offset so a test can draw
fresh names; none was checked against captured traffic). Family-style ones keep the
family's construction but not its exact seeding: ``qakbot``
(Mersenne Twister, Python's own seeding), ``conficker`` (uniform letters, 4-10, over the
family's many TLDs), ``murofet`` (MD5-derived letters), ``bamital`` (MD5 hex digests),
``corebot`` (letters and digits), ``symmi`` (consonant-vowel pairs). The word-list families
``suppobox`` and ``banjori`` are here to measure what a character model cannot see: their
names are English words glued together.

:data:`TRAINING` are the families the shipped model learned from; :data:`HELD_OUT` are never
shown to it and measure how it generalises (the tester uses ``qakbot``, so its scenario is
not one the model memorised).
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Final

_M32: Final = 0xFFFFFFFF
_M64: Final = (1 << 64) - 1
_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"

Family = Callable[[int, date, int], list[str]]
"""``(seed, day, n) -> n names``."""


def cryptolocker(seed: int, day: date, n: int) -> list[str]:
    """CryptoLocker: three xor-shift registers seeded from the date; 12-15 of ``a``-``y``."""
    tlds = ("com", "net", "biz", "ru", "org", "co.uk", "info")
    out = []
    for k in range(n):
        d, m, y = day.day * 65537, day.month * 65537, (day.year + k + seed) * 65537
        length = ((d >> 3 ^ y >> 8 ^ y >> 11) & 3) + 12
        label = []
        for _ in range(length):
            d = (((d << 13) & _M32) >> 19) ^ (((d >> 1) << 13) & _M32) ^ (d >> 19)
            m = (((m << 2) & _M32) >> 25) ^ (((m >> 3) << 7) & _M32) ^ (m >> 25)
            y = (((y << 3) & _M32) >> 11) ^ (((y >> 4) << 21) & _M32) ^ (y >> 11)
            d, m, y = d & _M32, m & _M32, y & _M32
            label.append(chr(ord("a") + (d ^ m ^ y) % 25))
        out.append("".join(label) + "." + tlds[k % len(tlds)])
    return out


def _necurs_mix(value: int) -> int:
    for i in range((value & 0x7F) + 21):
        value = (value + (((value * 7) ^ (value << 15)) + 8 * i - (value >> 5))) & _M64
    return value


_NECURS_TLDS: Final = [
    "tj",
    "in",
    "jp",
    "tw",
    "ac",
    "cm",
    "la",
    "mn",
    "so",
    "sh",
    "sc",
    "nu",
    "nf",
    "mu",
    "ms",
    "mx",
    "ki",
    "im",
    "cx",
    "cc",
    "tv",
    "bz",
    "me",
    "eu",
    "de",
    "ru",
    "co",
    "su",
    "pw",
    "kz",
    "sx",
    "us",
    "ug",
    "ir",
    "to",
    "ga",
    "com",
    "net",
    "org",
    "biz",
    "xxx",
    "pro",
    "bit",
]


def necurs(seed: int, day: date, n: int) -> list[str]:
    """Necurs: a 64-bit mixing function over the date, sequence number and a magic seed; 7-21 letters."""
    out = []
    for k in range(n):
        x = _necurs_mix(day.year)
        x = _necurs_mix(x + day.month + 43690)
        x = _necurs_mix(x + (day.day >> 2))
        x = _necurs_mix(x + k)
        x = _necurs_mix(x + seed)
        label = []
        for i in range(x % 15 + 7):
            x = _necurs_mix(x + i)
            label.append(chr(ord("a") + x % 25))
            x = _necurs_mix(x + 0xABBEDF)
        out.append("".join(label) + "." + _NECURS_TLDS[x % len(_NECURS_TLDS)])
    return out


_RAMNIT_SEEDS: Final = (0x16647BB4, 0xE7392D18, 0xC129388E, 0xE706B455, 0xDC485593, 0xEF214BBF, 0x4BFCBC6A)


def ramnit(seed: int, day: date, n: int) -> list[str]:
    """Ramnit: a Park-Miller style generator from a per-sample seed (the date is not used); 8-19 letters, .com.

    ``seed`` picks one of the samples' published seeds (and varies it beyond their number).
    """
    del day
    state = (_RAMNIT_SEEDS[seed % len(_RAMNIT_SEEDS)] ^ (seed // len(_RAMNIT_SEEDS))) & _M32

    def draw(modulus: int) -> int:
        nonlocal state
        state = (16807 * (state % 127773) - 2836 * (state // 127773)) & _M32
        return state % modulus

    out = []
    for _ in range(n):
        first = state
        length = draw(12) + 8
        second = state
        out.append("".join(chr(ord("a") + draw(25)) for _ in range(length)) + ".com")
        product = first * second
        state = (product + product // (1 << 32)) % (1 << 32)
    return out


def pykspa(seed: int, day: date, n: int) -> list[str]:
    """Pykspa (precursor): a squaring generator seeded by the two-day period; 6-15 letters."""
    tlds = ("biz", "com", "net", "org", "info", "cc")
    r = (int((day - date(1970, 1, 1)).total_seconds()) // (2 * 86400) + seed) & _M32
    out = []
    for k in range(n):
        r = ((r * r) & _M32) + k
        r &= _M32
        length = r % 10 + 6
        a, q, label = length * length, r, []
        for i in range(length):
            x = (i * (q % 4567 + q % 19)) & _M32
            p = (q * ((q % 5) + (q % 123456) + x)) & _M32
            label.append(chr(ord("a") + ((a + p) & _M32) % 26))
            q = ((q + i) & _M32) >> (((i * i) & 0xFF) & 31)
            a = (a + length) & _M32
        out.append("".join(label) + "." + tlds[r % 6])
    return out


def _ror(v: int, s: int) -> int:
    v &= _M32
    return ((v >> s) | (v << (32 - s))) & _M32


def _rol(v: int, s: int) -> int:
    v &= _M32
    return ((v << s) | (v >> (32 - s))) & _M32 if s % 32 else v


def locky(seed: int, day: date, n: int) -> list[str]:
    """Locky (v2): a multiply-rotate hash over the year, half-month and sequence; 7-17 of ``a``-``y``."""
    tlds = ("ru", "info", "biz", "click", "su", "work", "pl", "org", "pw", "xyz")
    mul, add, shift = 0xB11924E1, 0x27100001, 7
    out = []
    for k in range(n):
        seed_rot, nr_rot = _rol(seed, 17), _rol(k, 21)
        h, year = 0, day.year
        for _ in range(7):
            t0 = _ror(mul * (year + h + 0x1BF5), shift)
            t1 = ((t0 + add) ^ h) & _M32
            t2 = _ror(mul * (t1 + seed), shift)
            t3 = ((t2 + add) ^ t1) & _M32
            t4 = _ror(mul * (day.day // 2 + t3), shift)
            t5 = (0xD8EFFFFF - t4 + t3) & _M32
            t6 = _ror(mul * (day.month + t5 - 0x65CAD), shift)
            t7 = (t5 + t6 + add) & _M32
            t8 = _ror(mul * (t7 + seed_rot + nr_rot), shift)
            h = ((t8 + add) ^ t7) & _M32
            year += 1
        label = []
        for i in range(h % 11 + 7):
            h = (_ror(mul * _rol(h, i), shift) + add) & _M32
            label.append(chr(ord("a") + h % 25))
        h = _ror(h * mul, shift)
        out.append("".join(label) + "." + tlds[(h + add) % len(tlds)])
    return out


def simda(seed: int, day: date, n: int) -> list[str]:
    """Simda: pronounceable 7-letter names, consonant and vowel alternating, from a stepping base.

    Simda's base comes from the sample; keibi moves it by ``seed`` and the day to draw new names.
    """
    consonants, vowels = "qwrtpsdfghjklzxcvbnmv", "eyuioa"
    base = 0x45AE94B2 + seed * 1_000_003 + day.toordinal() * 7919
    step = sum(map(ord, "1676d5775e05c50b46baa5579d4fc7"))
    tlds = ("com", "net", "info", "biz")
    out = []
    for k in range(n):
        base += step
        label = [
            consonants[(base // (3 + 2 * i)) % 20] if i % 2 == 0 else vowels[(base // (3 + 2 * i)) % 6]
            for i in range(7)
        ]
        out.append("".join(label) + "." + tlds[k % len(tlds)])
    return out


def tinba(seed: int, day: date, n: int) -> list[str]:
    """Tinba: each 12-letter name is hashed from the previous one and a 16-byte key."""
    del day
    keys = ("oGkS3w3sGGOGG7oc", "jc74FlUna852Ji9o", "yqokqFC2TPBFfJcG", "j193HsnW72Yqns7u")
    starts = ("ssrgwnrmgrxe.com", "blackfreeqazyio.cc", "watchthisnow.xyz", "j193hsne720uie8i.cc")
    tlds = (("com",), ("com", "net", "in", "ru"), ("pw", "us", "xyz", "club"), ("com", "net", "biz", "org"))
    which = seed % len(keys)
    key = [ord(c) for c in keys[which]]
    previous = [ord(c) for c in starts[which]]
    out: list[str] = []
    while len(out) < n:
        total, acc, new = sum(key[:16]), key[15] & 0xFF, []
        for i in range(12):
            while True:
                acc = (((acc + previous[i]) ^ (total & 0xFF)) + previous[i + 1]) & 0xFF
                if 0x61 < acc < 0x7A:
                    new.append(acc)
                    break
                total += 1
        label = "".join(map(chr, new))
        out.extend(f"{label}.{tld}" for tld in tlds[which])
        previous = [ord(c) for c in label + "." + tlds[which][-1]]
    return out[:n]


_QAKBOT_TLDS: Final = ("com", "net", "org", "info", "biz")


def qakbot(seed: int, day: date, n: int) -> list[str]:
    """Qakbot-style: a Mersenne Twister seeded from CRC32 of the ten-day period; 8-25 letters."""
    period = f"{min((day.day - 1) // 10, 2)}.{day.strftime('%b').lower()}.{day.year}.{seed:08x}"
    rng = random.Random(zlib.crc32(period.encode()))
    out = []
    for _ in range(n):
        tld = _QAKBOT_TLDS[rng.randrange(len(_QAKBOT_TLDS))]
        length = rng.randint(8, 25)
        out.append("".join(rng.choice(_LETTERS) for _ in range(length)) + "." + tld)
    return out


_CONFICKER_TLDS: Final = [
    "com",
    "net",
    "org",
    "info",
    "biz",
    "ws",
    "cn",
    "ag",
    "am",
    "at",
    "be",
    "bz",
    "ca",
    "cc",
    "ch",
    "cl",
    "cz",
    "de",
    "dk",
    "ec",
    "eu",
    "fm",
    "fr",
    "gs",
    "hn",
    "ht",
    "in",
    "it",
    "jp",
    "kz",
    "la",
    "lc",
    "lv",
    "me",
    "ms",
    "mu",
    "mx",
    "my",
    "nl",
    "nu",
    "pe",
    "pl",
    "ru",
    "sc",
    "sg",
    "sh",
    "sk",
    "so",
    "tc",
    "tk",
    "tl",
    "tv",
    "tw",
    "vc",
    "vn",
]


def conficker(seed: int, day: date, n: int) -> list[str]:
    """Conficker-style: uniform letters, 4-10 long, over the family's many country TLDs."""
    rng = random.Random(f"conficker|{seed}|{day.isoformat()}")
    return [
        "".join(rng.choice(_LETTERS) for _ in range(rng.randint(4, 10))) + "." + rng.choice(_CONFICKER_TLDS)
        for _ in range(n)
    ]


def murofet(seed: int, day: date, n: int) -> list[str]:
    """Murofet-style: MD5 of the date and a counter, each byte folded onto a letter; 16-31 letters."""
    tlds = ("biz", "info", "org", "net", "com", "ru")
    out = []
    for k in range(n):
        digest = hashlib.md5(f"{day.year}{day.month}{day.day}{seed}{k}".encode()).digest()
        digest += hashlib.md5(digest).digest()
        length = 16 + digest[0] % 16
        label = "".join(chr(ord("a") + (b & 0x1F) % 26) for b in digest[1 : length + 1])
        out.append(label + "." + tlds[k % len(tlds)])
    return out


def bamital(seed: int, day: date, n: int) -> list[str]:
    """Bamital-style: the hex MD5 digest of a date string and counter as the label (32 hex digits)."""
    tlds = ("info", "org", "com", "net")
    return [
        hashlib.md5(f"{seed}:{day.isoformat()}:{k}".encode()).hexdigest() + "." + tlds[k % len(tlds)]
        for k in range(n)
    ]


def corebot(seed: int, day: date, n: int) -> list[str]:
    """Corebot-style: letters and digits, 12-23 long, from a date-seeded LCG (Corebot itself used dynamic DNS)."""
    charset = "abcdefghijklmnopqrstuvwxyz0123456789"
    state = (seed ^ (day.year << 16 | day.month << 8 | day.day)) & _M32
    out = []
    for _ in range(n):
        state = (1664525 * state + 1013904223) & _M32
        length = 12 + state % 12
        label = []
        for _ in range(length):
            state = (1664525 * state + 1013904223) & _M32
            label.append(charset[(state >> 8) % len(charset)])
        out.append("".join(label) + "." + ("com", "net", "info")[state % 3])
    return out


def symmi(seed: int, day: date, n: int) -> list[str]:
    """Symmi-style: consonant-vowel pairs (with the odd consonant alone), 12-15 letters."""
    rng = random.Random(f"symmi|{seed}|{day.year}-{day.month}")
    consonants, vowels = "bcdfghklmnprstvxz", "aeiou"
    out = []
    for _ in range(n):
        length, label = rng.randint(12, 15), ""
        while len(label) < length:
            label += rng.choice(consonants) + ("" if rng.random() < 0.2 else rng.choice(vowels))
        out.append(label[:length] + ".com")
    return out


_SUPPOBOX_WORDS: Final = [
    "against",
    "another",
    "because",
    "before",
    "better",
    "between",
    "business",
    "children",
    "company",
    "country",
    "different",
    "during",
    "family",
    "government",
    "however",
    "important",
    "interest",
    "little",
    "members",
    "million",
    "national",
    "number",
    "people",
    "point",
    "possible",
    "program",
    "public",
    "question",
    "really",
    "school",
    "service",
    "should",
    "social",
    "something",
    "states",
    "system",
    "though",
    "through",
    "under",
    "water",
    "where",
    "while",
    "without",
    "world",
    "would",
    "years",
    "always",
    "around",
    "beauty",
    "bridge",
    "camera",
    "dinner",
    "energy",
    "flower",
    "garden",
    "island",
    "jacket",
    "kitchen",
    "letter",
    "market",
    "nature",
    "orange",
    "pencil",
    "rabbit",
    "silver",
    "summer",
    "ticket",
    "travel",
    "valley",
    "window",
    "winter",
    "yellow",
]


def suppobox(seed: int, day: date, n: int) -> list[str]:
    """Suppobox-style: two English words glued together, picked by the date (word-list DGA)."""
    rng = random.Random(f"suppobox|{seed}|{day.isoformat()}")
    words = _SUPPOBOX_WORDS
    return [rng.choice(words) + rng.choice(words) + ".net" for _ in range(n)]


def banjori(seed: int, day: date, n: int) -> list[str]:
    """Banjori: each name changes only the first four letters of the previous one (seeded by a real-looking name)."""
    del day
    starts = (
        "earnestnessbiophysicalohax.com",
        "kwtoestnessbiophysicalohax.com",
        "rvcxestnessbiophysicalohax.com",
    )
    name = [ord(c) for c in starts[seed % len(starts)]]

    def fold(v: int) -> int:
        return ord("a") + (v - ord("a")) % 26

    out = []
    for _ in range(n):
        name[0] = fold(name[0] + name[3])
        name[1] = fold(name[0] + 2 * name[1])
        name[2] = fold(name[0] + name[2] - 1)
        name[3] = fold(name[1] + name[2] + name[3])
        out.append("".join(map(chr, name)))
    return out


FAMILIES: Final[dict[str, Family]] = {
    "cryptolocker": cryptolocker,
    "necurs": necurs,
    "ramnit": ramnit,
    "pykspa": pykspa,
    "locky": locky,
    "simda": simda,
    "tinba": tinba,
    "conficker": conficker,
    "murofet": murofet,
    "bamital": bamital,
    "corebot": corebot,
    "symmi": symmi,
    "qakbot": qakbot,
    "suppobox": suppobox,
    "banjori": banjori,
}
TRAINING: Final[tuple[str, ...]] = (
    "cryptolocker",
    "necurs",
    "ramnit",
    "pykspa",
    "locky",
    "simda",
    "tinba",
    "conficker",
    "murofet",
    "bamital",
    "corebot",
    "symmi",
)
HELD_OUT: Final[tuple[str, ...]] = ("qakbot", "suppobox", "banjori")


def generate(family: str, n: int, *, seed: int = 0, start: date = date(2026, 1, 1)) -> list[str]:
    """``n`` distinct names of ``family``: the day ``start``'s names, then the next day's, and so on."""
    make = FAMILIES[family]
    seen: dict[str, None] = {}
    for offset in range(366):
        for name in make(seed, start + timedelta(days=offset), n):
            seen.setdefault(name, None)
        if len(seen) >= n:
            break
    return list(seen)[:n]
