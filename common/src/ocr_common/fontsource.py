"""Korean families packaged on npm by Fontsource, merged into one installable font per weight.

Fontsource ships each family as ~100 unicode-range subsets (`files/<id>-<n>-<weight>-normal.woff2`)
for browsers; fontTools merges a weight's subsets back into one TrueType file, written to the
user's font folder so that fontconfig (and so `ocr_common.fonts`) finds it like any other font.

    python -m ocr_common.fontsource            # install every family below that is missing
    python -m ocr_common.fontsource --dest DIR gaegu sunflower
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ocr_common.fonts import FONTSOURCE_DIR as DEFAULT_DEST

# Google Fonts' Korean families (none of them Un* or Baekmuk, which stay held out).
FAMILIES = (
    "black-han-sans",
    "cute-font",
    "do-hyeon",
    "east-sea-dokdo",
    "gaegu",
    "gamja-flower",
    "gothic-a1",
    "gowun-batang",
    "gowun-dodum",
    "gugi",
    "hahmlet",
    "hi-melody",
    "ibm-plex-sans-kr",
    "jua",
    "kirang-haerang",
    "nanum-gothic-coding",
    "orbit",
    "poor-story",
    "single-day",
    "song-myung",
    "stylish",
    "sunflower",
    "yeon-sung",
    "dongle",
    "gasoek-one",
    "diphylleia",
    "dela-gothic-one",
)
WEIGHTS = ("400", "700")  # regular and bold where a family has them; otherwise its lightest
_SUBSET = re.compile(r"^(?P<id>.+)-(?P<subset>[a-z0-9-]+?)-(?P<weight>\d{3})-normal\.woff2$")


def merged_weights(package_dir: Path) -> dict[str, list[Path]]:
    """weight → its subset files, for the weights this package should install."""
    by_weight: dict[str, list[Path]] = {}
    for path in sorted((package_dir / "files").glob("*-normal.woff2")):
        match = _SUBSET.match(path.name)
        if match:
            by_weight.setdefault(match["weight"], []).append(path)
    chosen = [w for w in WEIGHTS if w in by_weight] or sorted(by_weight)[:1]
    return {weight: by_weight[weight] for weight in chosen}


def merge_subsets(subsets: list[Path], output: Path) -> None:
    """One TrueType/OpenType file holding every glyph of `subsets` (woff2 decoded first)."""
    from fontTools.merge import Merger
    from fontTools.ttLib import TTFont

    with tempfile.TemporaryDirectory() as scratch:
        plain = []
        for number, subset in enumerate(subsets):
            font = TTFont(subset)
            font.flavor = None  # the merger reads sfnt, not woff2
            path = Path(scratch) / f"{number}.ttf"
            font.save(path)
            plain.append(str(path))
        merged = Merger().merge(plain)
        tmp = output.with_suffix(".partial")
        merged.save(tmp)
        tmp.replace(output)


def install_family(family: str, dest: Path) -> list[Path]:
    """Download `@fontsource/<family>` with npm and write its merged weights under `dest`."""
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(
            ["npm", "pack", "--silent", f"@fontsource/{family}"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        if packed.returncode != 0:
            reason = (packed.stderr.strip().splitlines() or ["npm pack failed"])[-1]
            raise RuntimeError(reason)
        archive = next(Path(scratch).glob("*.tgz"))
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        written = []
        for weight, subsets in merged_weights(Path(scratch) / "package").items():
            output = dest / f"{family}-{weight}.ttf"
            merge_subsets(subsets, output)
            written.append(output)
        return written


def install(families: tuple[str, ...] = FAMILIES, dest: Path = DEFAULT_DEST) -> int:
    """Install the missing families; returns how many could not be (each said in one line)."""
    if shutil.which("npm") is None:
        print("fontsource: npm not found; skipping the Fontsource Korean families")
        return len(families)
    dest.mkdir(parents=True, exist_ok=True)
    failed = 0
    for family in families:
        if any(dest.glob(f"{family}-*.ttf")):
            continue
        try:
            written = install_family(family, dest)
            print(f"fontsource: {family}: {', '.join(p.name for p in written)}")
        except (RuntimeError, OSError, StopIteration) as error:
            failed += 1
            print(f"fontsource: {family}: not installed ({error})")
    if shutil.which("fc-cache"):
        subprocess.run(["fc-cache", "-f", str(dest)], check=False, capture_output=True)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("families", nargs="*", help=f"default: all {len(FAMILIES)}")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args()
    failed = install(tuple(args.families) or FAMILIES, args.dest)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
