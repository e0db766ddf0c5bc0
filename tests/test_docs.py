"""The documentation: a README short enough to read, and no link (README, docs/) to nowhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(
    r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)"
)  # [text](target) and ![alt](target)


def relative_links(markdown: str) -> list[str]:
    """Link targets that name a file in this repository (no scheme, not a bare #anchor)."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)  # links inside code are not links
    targets = [m.group(1) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_relative_links_are_found() -> None:
    text = (
        "[a](docs/a.md#x) ![b](../images/b.png) [c](https://x.org) [d](#top)\n```\n[e](e.md)\n```"
    )
    assert relative_links(text) == ["docs/a.md#x", "../images/b.png"]


def test_readme_is_at_most_20000_characters() -> None:
    size = len((ROOT / "README.md").read_text(encoding="utf-8"))
    assert size <= 20_000, f"README.md has {size} characters; move details to docs/"


@pytest.mark.parametrize("document", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file(document: Path) -> None:
    links = relative_links(document.read_text(encoding="utf-8"))
    dangling = [t for t in links if not (document.parent / t.split("#")[0]).exists()]
    assert not dangling, f"{document.relative_to(ROOT)} links to missing files: {dangling}"
