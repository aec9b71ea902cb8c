"""Find near-copies in a class by token winnowing, as MOSS does.

The algorithm is the one published by Schleimer, Wilkerson and Aiken,
"Winnowing: Local Algorithms for Document Fingerprinting" (SIGMOD 2003):

1. tokenize each submission with Python's own ``tokenize`` and normalise the
   tokens, so renamed variables, changed literals, comments and whitespace
   leave the token stream as it was;
2. hash every run of ``K`` consecutive tokens (a k-gram);
3. in every window of ``WINDOW`` consecutive hashes keep the smallest (the
   rightmost on a tie): these are the submission's fingerprints. Any shared
   run of at least ``K + WINDOW - 1`` tokens yields a shared fingerprint, and
   no run shorter than ``K`` does;
4. set aside the fingerprints everyone gets for free: those of the stub, and
   those found in more submissions of the class than ``common_limit``
   (MOSS's ``-m``, 10 by default; half of a class under 20): the tutorial's
   idiom is shared by most of the class, so it says nothing about two
   students, while a passage three copiers share is still theirs;
5. a pair is listed when the rare fingerprints it shares make up at least
   the threshold of all the fingerprints (less the stub's) of the smaller
   submission: common passages count against a pair, never for it, so a
   student whose only own line happens to match another's is not a
   near-copy. Its similarity is then the share of the smaller submission
   the two have in common, idiom included: a whole copy reads as 100%;
6. pairs that link three or more students (a copy passed round) are
   gathered into one group (``groups``).

Since fingerprints form a set, reordered functions match as well as
functions in place. Source text is only read, never run. Everything here is
pure: plain strings in, plain data out.
"""

from __future__ import annotations

import builtins
import io
import keyword
import math
import tokenize
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

__all__ = [
    "K",
    "WINDOW",
    "DEFAULT_THRESHOLD",
    "WHOLE",
    "Fingerprints",
    "NearCopy",
    "tokens",
    "fingerprint",
    "common_limit",
    "near_copies",
    "Group",
    "groups",
]

K = 10  # noise threshold: shorter shared runs (`return x.grad`) never match
WINDOW = 5  # guarantee threshold K + WINDOW - 1 = 14 tokens, about one line of code
DEFAULT_THRESHOLD = 0.4
WHOLE = "all"  # the exercise name of a whole-submission comparison
# Fewer shared rare fingerprints than this is chance, whatever the ratio:
# two short files that share one rare line are not near-copies.
MIN_SHARED = 4
# An honest exercise is a few hundred tokens; a 2 MiB file of noise must not
# make the class's comparison slow (the rest of it is still compared).
MAX_TOKENS = 20_000

_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_TYPE_COMMENT = getattr(tokenize, "TYPE_COMMENT", None)
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_STATEMENT_START = {None, ";", "{", "}"}


@dataclass(frozen=True)
class Token:
    """A normalised token and the lines of the source it came from."""

    text: str
    first: int
    last: int


def _normalised(previous: str | None, token: tokenize.TokenInfo) -> str:
    if token.type == tokenize.NAME:
        # Names a copier cannot rename without changing the program (keywords,
        # builtins, attributes such as `.backward`) stay; the rest are renamable.
        return token.string if previous == "." or token.string in _KEEP_NAMES else "V"
    if token.type == tokenize.NUMBER:
        return "N"
    if token.type == tokenize.STRING:
        return "S"
    if token.type == tokenize.NEWLINE:
        return ";"
    if token.type == tokenize.INDENT:
        return "{"
    if token.type == tokenize.DEDENT:
        return "}"
    return token.string


def tokens(source: str) -> list[Token]:
    """Return the normalised tokens of ``source``, without comments and docstrings."""
    out: list[Token] = []
    fstring_depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in _SKIP or token.type == _TYPE_COMMENT:
                continue
            # A 3.12 f-string arrives in pieces: one string, like before 3.12.
            if token.type == _FSTRING_START:
                fstring_depth += 1
                if fstring_depth > 1:
                    continue
            elif fstring_depth:
                fstring_depth -= token.type == _FSTRING_END
                continue
            previous = out[-1].text if out else None
            text = "S" if token.type == _FSTRING_START else _normalised(previous, token)
            # A string that is a whole statement is a docstring: a comment, really.
            if text == ";" and previous == "S" and _starts_statement(out[:-1]):
                out.pop()
                continue
            out.append(Token(text, token.start[0], token.end[0]))
            if len(out) >= MAX_TOKENS:
                break
    # Broken code (a syntax error the checks reported) is compared up to the break.
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def _starts_statement(before: list[Token]) -> bool:
    return (before[-1].text if before else None) in _STATEMENT_START


@dataclass
class Fingerprints:
    """A submission's winnowed fingerprints: hash -> the line spans it covers."""

    lines: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def hashes(self) -> set[int]:
        return set(self.lines)


@lru_cache(maxsize=4096)
def _token_id(text: str) -> int:
    # crc32, not hash(): str hashes change with every process, and the class's
    # results must be the same when the batch runs again.
    return zlib.crc32(text.encode())


def fingerprint(source: str, *, k: int = K, window: int = WINDOW) -> Fingerprints:
    """Winnow ``source``: the minimum k-gram hash of every window, with its lines."""
    found = Fingerprints()
    stream = tokens(source)
    ids = [_token_id(t.text) for t in stream]
    # A tuple of ints hashes the same in every process (ints are not salted).
    hashes = [hash(tuple(ids[i : i + k])) for i in range(len(ids) - k + 1)]
    last = -1
    for start in range(max(len(hashes) - window + 1, 1 if hashes else 0)):
        chunk = hashes[start : start + window]
        smallest = min(chunk)
        # The rightmost minimum: a window that slides on keeps the same pick.
        position = start + len(chunk) - 1 - chunk[::-1].index(smallest)
        if position != last:
            last = position
            span = (stream[position].first, stream[position + k - 1].last)
            found.lines.setdefault(smallest, []).append(span)
    return found


# MOSS's default -m: a passage found in more than this many programs is ignored.
MOSS_COMMON = 10


def common_limit(submissions: int) -> int:
    """Return how many submissions may share a fingerprint before it counts as common.

    MOSS ignores a passage found in more than 10 programs. A class under 20
    has fewer than that in all: there a passage is idiom once more than half
    of the class has it, so three copiers in a class of 8 keep what they
    share (a tenth of the class, at least 2, took it from them), and a pair
    is the least that can share anything.
    """
    return max(2, min(MOSS_COMMON, math.ceil(submissions / 2)))


@dataclass(frozen=True)
class NearCopy:
    """Two students whose code is alike beyond the stub and the class's common idiom."""

    exercise: str
    student_a: str
    student_b: str
    similarity: float
    shared: int
    # exercise -> (lines of a, lines of b) covered by the shared fingerprints
    lines: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]]


def near_copies(
    sources: Mapping[str, Mapping[str, str]],
    stubs: Mapping[str, str],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[NearCopy]:
    """Return the pairs at or above ``threshold``, per exercise and for whole submissions.

    ``sources[student][exercise]`` is the text a student handed in; ``stubs``
    the text every student started from. Most alike first.
    """
    prints: dict[str, dict[str, Fingerprints]] = defaultdict(dict)  # exercise -> student -> fps
    for student, work in sources.items():
        for exercise, text in work.items():
            prints[exercise][student] = fingerprint(text)
    rare: dict[str, dict[str, set[tuple[str, int]]]] = {}
    own: dict[str, dict[str, set[tuple[str, int]]]] = {}
    for exercise, by_student in prints.items():
        free = fingerprint(stubs.get(exercise, "")).hashes()
        own[exercise] = {
            s: {(exercise, h) for h in f.hashes() - free} for s, f in by_student.items()
        }
        rare[exercise] = _rare(own[exercise], common_limit(len(by_student)))
    found = [
        pair
        for exercise in sorted(rare)
        for pair in _pairs(exercise, rare[exercise], own[exercise], prints, threshold)
    ]
    if len(prints) > 1:
        # With one exercise the whole submission is that exercise: the same pairs again.
        whole: dict[str, set[tuple[str, int]]] = defaultdict(set)
        whole_own: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for exercise, kept in rare.items():
            for student, hashes in kept.items():
                whole[student] |= hashes
                whole_own[student] |= own[exercise][student]
        found += _pairs(WHOLE, whole, whole_own, prints, threshold)
    return sorted(found, key=lambda p: (-p.similarity, p.exercise, p.student_a, p.student_b))


def _rare(
    by_student: dict[str, set[tuple[str, int]]], limit: int
) -> dict[str, set[tuple[str, int]]]:
    """Keep, for each student, the fingerprints at most ``limit`` submissions have."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for hashes in by_student.values():
        for h in hashes:
            counts[h] += 1
    return {s: {h for h in hashes if counts[h] <= limit} for s, hashes in by_student.items()}


def _pairs(
    exercise: str,
    by_student: dict[str, set[tuple[str, int]]],
    own: Mapping[str, set[tuple[str, int]]],
    prints: Mapping[str, Mapping[str, Fingerprints]],
    threshold: float,
) -> list[NearCopy]:
    """List the pairs whose rare shared fingerprints reach ``threshold`` of the smaller one.

    ``by_student`` holds each student's rare fingerprints, ``own`` all of them
    less the stub's (the idiom too, which only the similarity figure counts).
    """
    # Only students who share a rare fingerprint can be alike: an inverted
    # index finds them without comparing all n * (n - 1) / 2 pairs.
    holders: dict[tuple[str, int], list[str]] = defaultdict(list)
    for student in sorted(by_student):
        for key in by_student[student]:
            holders[key].append(student)
    candidates: set[tuple[str, str]] = set()
    for students in holders.values():
        candidates.update(combinations(students, 2))
    found = []
    for a, b in sorted(candidates):
        shared = by_student[a] & by_student[b]
        smaller = min(len(own[a]), len(own[b]))
        if len(shared) < MIN_SHARED or not smaller or len(shared) / smaller < threshold:
            continue
        similarity = len(own[a] & own[b]) / smaller
        found.append(
            NearCopy(
                exercise, a, b, round(similarity, 3), len(shared), _lines(shared, prints, a, b)
            )
        )
    return found


@dataclass(frozen=True)
class Group:
    """Three or more students linked by near-copies of one exercise (or of whole submissions)."""

    exercise: str
    students: tuple[str, ...]
    # The least similarity of the pairs that link them, and those pairs' indexes.
    similarity: float
    pairs: tuple[int, ...]


def groups(pairs: list[NearCopy]) -> list[Group]:
    """Gather the listed pairs into groups of three or more students, per exercise.

    A copy passed round a group shows as one group to review, not as three
    to six unrelated pairs. Students linked through another are in one group
    even when the two ends are not listed as a pair themselves.
    """
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        a, b = root((pair.exercise, pair.student_a)), root((pair.exercise, pair.student_b))
        parent[max(a, b)] = min(a, b)
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    links: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, pair in enumerate(pairs):
        top = root((pair.exercise, pair.student_a))
        members[top] |= {pair.student_a, pair.student_b}
        links[top].append(index)
    found = [
        Group(
            exercise=top[0],
            students=tuple(sorted(members[top])),
            similarity=min(pairs[i].similarity for i in links[top]),
            pairs=tuple(links[top]),
        )
        for top in members
        if len(members[top]) >= 3
    ]
    return sorted(found, key=lambda g: (-len(g.students), -g.similarity, g.exercise, g.students))


def _lines(
    shared: Iterable[tuple[str, int]],
    prints: Mapping[str, Mapping[str, Fingerprints]],
    a: str,
    b: str,
) -> dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    spans: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for exercise, h in sorted(shared):
        left, right = spans.setdefault(exercise, ([], []))
        left += prints[exercise][a].lines[h]
        right += prints[exercise][b].lines[h]
    return {e: (sorted(set(left)), sorted(set(right))) for e, (left, right) in spans.items()}
