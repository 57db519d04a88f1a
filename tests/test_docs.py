"""The documentation names real tests: every guarantee of the trust model points at an attack test
that exists, and every test or test file the README and docs/ cite is still there.

MkDocs' strict build (`make docs`) checks links and anchors between the pages of docs/; these
tests check what it cannot see: the README's links and the test names in the text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TRUST_MODEL = DOCS / "trust-model.md"
README = ROOT / "README.md"

TEST_NAME = re.compile(r"`(test_\w+)`")
TEST_PATH = re.compile(r"(?<![\w/.])((?:tests|contracts/test)/[\w/.-]*\w)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _defined_tests() -> set[str]:
    """Names of the pytest functions under tests/ and the forge tests under contracts/test/."""
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        names.update(re.findall(r"^\s*(?:async\s+)?def (test_\w+)", path.read_text(), re.M))
    for path in (ROOT / "contracts" / "test").rglob("*.sol"):
        names.update(re.findall(r"\bfunction (test_\w+)", path.read_text()))
    return names


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """Cells of the body rows of the markdown table whose header line starts with header_start."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        # Cells are split on pipes outside code spans (`R - |x|` is one cell).
        cells, cell, in_code = [], "", False
        for ch in line.strip().strip("|"):
            if ch == "`":
                in_code = not in_code
            if ch == "|" and not in_code:
                cells.append(cell.strip())
                cell = ""
            else:
                cell += ch
        cells.append(cell.strip())
        rows.append(cells)
    return rows


@pytest.mark.parametrize("doc", _documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cited_test_exists(doc: Path) -> None:
    defined = _defined_tests()
    text = doc.read_text()
    missing = sorted(set(TEST_NAME.findall(text)) - defined)
    assert not missing, f"{doc.relative_to(ROOT)} cites tests that do not exist: {missing}"
    paths = sorted({p for p in TEST_PATH.findall(text) if not (ROOT / p).exists()})
    assert not paths, f"{doc.relative_to(ROOT)} cites test files that do not exist: {paths}"


def test_every_trust_model_guarantee_names_its_attack_test() -> None:
    rows = _table_rows(TRUST_MODEL.read_text(), "| party |")
    parties = [row[0] for row in rows]
    assert len(rows) >= 5, f"{TRUST_MODEL.name}: the party table has {len(rows)} rows"
    for party in ("transmitter", "one attester", "f+1 attesters", "admin", "model trainer"):
        assert any(p.startswith(party) for p in parties), f"{TRUST_MODEL.name}: no row for {party}"
    defined = _defined_tests()
    for row in rows:
        assert len(row) == 3, f"{TRUST_MODEL.name}: row {row[0]!r} has {len(row)} cells, not 3"
        cannot = row[2]
        tests = [name for name in TEST_NAME.findall(cannot) if name in defined]
        tests += [p for p in TEST_PATH.findall(cannot) if (ROOT / p).exists()]
        assert tests, (
            f"{TRUST_MODEL.name}: the guarantees of {row[0]!r} name no existing attack test"
        )


def test_readme_links_resolve() -> None:
    """The README is not part of the MkDocs site, so its links are checked here."""
    text = README.read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.M)
    }
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (ROOT / path).exists(), f"README.md links to missing {path}"
        elif anchor:
            assert anchor in anchors, f"README.md links to missing anchor #{anchor}"


def test_readme_stays_short_and_keeps_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; depth belongs in docs/"
    assert any(line.startswith("make demo   #") for line in lines)
    assert any(line.startswith("make test   #") for line in lines)
