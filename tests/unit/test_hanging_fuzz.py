"""Hanging protocol files as hostile input, fuzzed (tuipacs.view.hanging): mutated and random
files never raise, give one clean line each and load in bounded time; and the TOML shape
guard (tuipacs.toml_shape) that keeps tomllib fast."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
import tomlkit
from test_hanging import series, study, write

from tuipacs.safe_text import clean
from tuipacs.toml_shape import shape
from tuipacs.view.hanging import GRIDS, builtin_protocols, hang, load_protocols

BUILT_IN = list(builtin_protocols()[0])

# --- fuzz ---------------------------------------------------------------------------------

ALPHABET = "[]{}=.\"'#\n\\ ,-+*?()|^$_:0123456789abcdefghijklmnopqrstuvwxyzCTMR\t\u202e\x00"


def mutate(rng: random.Random, text: str) -> str:
    """``text`` with one to four random edits (delete, duplicate, insert, swap lines)."""
    for _ in range(rng.randint(1, 4)):
        a = rng.randrange(len(text) + 1)
        b = min(len(text), a + rng.randint(0, 40))
        edit = rng.randrange(4)
        if edit == 0:
            text = text[:a] + text[b:]
        elif edit == 1:
            text = text[:b] + text[a:b] * rng.randint(1, 20) + text[b:]
        elif edit == 2:
            noise = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12)))
            text = text[:a] + noise + text[a:]
        else:
            lines = text.split("\n")
            rng.shuffle(lines)
            text = "\n".join(lines)
    return text


def check_lines(lines: list[str]) -> None:
    """Every skip line names its file, is one clean line and no defect's last resort."""
    for line in lines:
        assert clean(line) == line and len(line) <= 240
        assert re.match(r"f\d\d\.toml: ", line), line
        assert "report this" not in line, line


def test_mutated_protocol_files_never_raise_and_give_clean_lines(tmp_path: Path) -> None:
    rng = random.Random(20240516)
    seeds = [
        (Path(__file__).resolve().parents[2] / "tuipacs/view/protocols.toml").read_text(),
        '[[protocol]]\nname = "x"\nmatch.modality = ["CT"]\ngrid = "2x2"\n'
        '[[protocol.viewport]]\nstudy = "prior"\nseries = "a|b"\npreset = "lung"\n',
    ]
    started = time.monotonic()
    loaded = skipped = 0
    for round_ in range(8):
        folder = tmp_path / str(round_)
        folder.mkdir()
        for n in range(25):
            data = mutate(rng, rng.choice(seeds)).encode("utf-8", "surrogatepass")
            if rng.random() < 0.1:  # raw byte damage too
                spot = rng.randrange(len(data) + 1)
                data = data[:spot] + bytes([rng.randrange(256)]) + data[spot:]
            write(folder, f"f{n:02}.toml", data)
        protocols, lines = load_protocols(folder)
        check_lines(lines)
        loaded += len(protocols) - len(BUILT_IN)
        skipped += len(lines)
        for protocol in protocols:
            hang(protocol, study(("CT",)), [series("s", "lung", 1, 5)], None)
    assert time.monotonic() - started < 30  # a hang check: well under 1 s normally
    assert loaded > 20 and skipped > 100  # the mutations hit both sides


KEYS = {
    "protocol": ["name", "priority", "match", "grid", "viewport", "grdi"],
    "match": ["modality", "body_part", "description", "bodypart"],
    "viewport": ["study", "series", "modality", "preset", "serie"],
}
REGEX_BITS = ["a", "lung", "|", "(", ")", "*", "+", "?", ".", "\\b", "\\1", "[", "]", "{2,}", "^"]


def random_value(rng: random.Random, depth: int = 0) -> object:
    """A TOML value of a random type, often one a protocol key takes."""
    pick = rng.randrange(10)
    if pick < 4:
        return rng.choice(
            ["current", "prior", "1x2", "2x2", "3x3", "CT", "MR", "lung", "brain", "user:x",
             "".join(rng.choice(REGEX_BITS) for _ in range(rng.randint(0, 12))),
             "x" * rng.choice([1, 199, 200, 201, 5000])]
        )  # fmt: skip
    if pick < 6:
        return rng.choice([0, 1, -1, 10, 1001, -100, 2**63 - 1, 3.5, float("inf"), True])
    if pick < 8 and depth < 2:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    if depth < 2:
        return {"k": random_value(rng, depth + 1)}
    return "x"


def random_table(rng: random.Random, kind: str) -> dict[str, object]:
    """A table of ``kind`` with some of its keys (and now and then a misspelt one)."""
    table: dict[str, object] = {}
    for key in rng.sample(KEYS[kind], rng.randint(0, len(KEYS[kind]))):
        if key == "match" and rng.random() < 0.8:
            table[key] = random_table(rng, "match")
        elif key == "viewport" and rng.random() < 0.8:
            count = rng.choice([0, 1, 2, 4, 5])
            table[key] = [random_table(rng, "viewport") for _ in range(count)]
        else:
            table[key] = random_value(rng)
    return table


def test_random_protocol_tables_never_raise_and_give_clean_lines(tmp_path: Path) -> None:
    rng = random.Random(1605)
    started = time.monotonic()
    loaded = skipped = 0
    for n in range(60):
        protocols = [random_table(rng, "protocol") for _ in range(rng.randint(1, 5))]
        write(tmp_path, f"f{n:02}.toml", tomlkit.dumps({"protocol": protocols}))
    found, lines = load_protocols(tmp_path)
    check_lines(lines)
    loaded, skipped = len(found) - len(BUILT_IN), len(lines)
    for protocol in found:
        hanging = hang(protocol, study(("CT",)), [series("s", "x" * 300, 1, 5)], [])
        assert hanging.grid in GRIDS
    assert time.monotonic() - started < 30  # a hang check: well under 1 s normally
    assert loaded > 10 and skipped > 60  # the random tables hit both sides


# --- the TOML shape guard -----------------------------------------------------------------


def test_shape_ignores_dots_in_strings_and_comments() -> None:
    text = (
        'series = "a.b.c.d.e.f"  # x.y.z\n'
        "x = '''\n. . . . .\n'''\n"
        'y = """a""\\""".""" \n'
        "[a.b.c]\n"
        "z = [[1], {q = 2}]\n"
    )
    measured = shape(text)
    assert (measured.dots, measured.dots_line) == (2, 6)
    assert (measured.depth, measured.depth_line) == (2, 7)


@pytest.mark.parametrize(
    "text",
    [
        "a." * 130_000,
        '"' * 260_000,
        "'''" * 87_000,
        '"""' + '\\"' * 130_000,
        "[{" * 130_000,
        "#" * 260_000,
    ],
    ids=["dots", "quotes", "literal-triples", "escapes", "brackets", "comment"],
)
def test_shape_is_fast_on_hostile_text(text: str) -> None:
    started = time.monotonic()
    shape(text)
    assert time.monotonic() - started < 2  # a hang check: a few ms normally
