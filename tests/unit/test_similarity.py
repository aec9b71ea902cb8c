"""Token winnowing on small strings: what counts as alike and what does not."""

from __future__ import annotations

import textwrap

from grader.review.similarity import (
    WINDOW,
    K,
    common_limit,
    fingerprint,
    near_copies,
    tokens,
)

ORIGINAL = textwrap.dedent(
    """
    import torch

    def descend(f, start, rate, steps):
        point = torch.tensor([float(start)], requires_grad=True)
        trace = []
        for step in range(steps):
            value = f(point).sum()
            trace.append((float(point.detach()[0]), float(value.detach())))
            value.backward()
            with torch.no_grad():
                point.sub_(rate * point.grad)
            point.grad.zero_()
        return trace

    def square(x0):
        return descend(lambda t: t * t, x0, 0.1, 50)
    """
)
# Renamed, reordered, recommented, respaced, a docstring added, other literals.
DISGUISED = textwrap.dedent(
    '''
    import torch


    def sq(a):
        """Minimise a*a."""
        return run(lambda z: z*z, a, 0.2, 10)   # reuse


    def run(g, s, lr, n):
        # gradient descent
        p = torch.tensor([float(s)], requires_grad=True)
        hist = []
        for i in range(n):
            v = g(p).sum()
            hist.append((float(p.detach()[0]), float(v.detach())))
            v.backward()
            with torch.no_grad():
                p.sub_(lr * p.grad)
            p.grad.zero_()
        return hist
    '''
)


def _texts(source: str) -> list[str]:
    return [t.text for t in tokens(source)]


def test_renaming_comments_whitespace_and_docstrings_leave_the_tokens_alone() -> None:
    a = "def f(x):\n    # square it\n    y = x ** 2\n    return y.sum()\n"
    b = 'def g(value):\n    """Doc."""\n    out = value**2  # note\n\n    return out.sum()\n'
    assert _texts(a) == _texts(b)
    # Attribute names and builtins are kept: they are the API, not a choice of name.
    assert "sum" in _texts(a)
    assert "len" in _texts("n = len(x)\n")


def test_literals_are_normalised_but_structure_is_not() -> None:
    assert _texts("x = 1\n") == _texts("y = 2.5\n")
    assert _texts("s = 'a'\n") == _texts('t = "b"\n')
    assert _texts("x = a + b\n") != _texts("x = a * b\n")


def test_broken_code_is_tokenized_up_to_the_break() -> None:
    assert _texts("x = (1,\n") == ["V", "=", "(", "N", ","]


def test_fingerprints_cover_every_shared_run_of_the_guarantee_length() -> None:
    body = "a = b + c * d - e / f\n" * 3
    one, two = fingerprint("q = 1\n" + body), fingerprint(body + "w = (2, 3)\n")
    assert len(tokens(body)) >= K + WINDOW - 1
    assert one.hashes() & two.hashes()
    # Line spans point back into each file.
    span = one.lines[next(iter(one.hashes() & two.hashes()))][0]
    assert 1 <= span[0] <= span[1] <= 4


def test_fingerprints_are_the_same_in_every_process() -> None:
    # hash() of a str is salted per process; a tuple of crc32 ints is not.
    assert fingerprint(ORIGINAL).hashes() == fingerprint(ORIGINAL).hashes()
    assert fingerprint("").hashes() == set()
    assert fingerprint("x = 1\n").hashes() == set()  # shorter than one k-gram


def test_a_disguised_copy_is_flagged() -> None:
    (pair,) = [
        p
        for p in near_copies({"ann": {"06": ORIGINAL}, "bo": {"06": DISGUISED}}, {})
        if p.exercise == "06"
    ]
    assert (pair.student_a, pair.student_b) == ("ann", "bo")
    assert pair.similarity >= 0.9
    left, right = pair.lines["06"]
    assert left and right


def test_the_stub_and_the_common_idiom_do_not_count() -> None:
    # The stub holds the whole shared part: nothing rare is left to share.
    assert near_copies({"ann": {"06": ORIGINAL}, "bo": {"06": DISGUISED}}, {"06": ORIGINAL}) == []
    # Eleven students hand in the same code: it is the class's idiom, not a copy.
    class_ = {f"s{i:02d}": {"06": ORIGINAL} for i in range(11)}
    assert common_limit(11) == 6
    assert near_copies(class_, {}) == []


def test_whole_submissions_add_up_the_exercises() -> None:
    work = {"ann": {"01": ORIGINAL, "02": "x = 1\n"}, "bo": {"01": DISGUISED, "02": "y = 2\n"}}
    found = {p.exercise for p in near_copies(work, {})}
    assert found == {"01", "all"}


def test_the_threshold_decides() -> None:
    work = {"ann": {"06": ORIGINAL}, "bo": {"06": DISGUISED}}
    assert near_copies(work, {}, threshold=1.01) == []


def test_common_limit_follows_moss_for_big_classes() -> None:
    # MOSS's default from 20 submissions on; below, more than half of the class.
    assert common_limit(2) == common_limit(3) == 2
    assert common_limit(5) == 3
    assert common_limit(8) == 4
    assert common_limit(20) == common_limit(60) == common_limit(500) == 10
