"""Korean families on npm: Fontsource's, merged into one installable font per weight, and a few
packages that ship ready TrueType files.

Fontsource ships each family as ~100 unicode-range subsets (`files/<id>-<n>-<weight>-normal.woff2`)
for browsers; fontTools merges a weight's subsets back into one TrueType file, written to the
user's font folder so that fontconfig (and so `ocr_common.fonts`) finds it like any other font.
The ready-made packages' regular and bold files are copied there as they are.

    python -m ocr_common.fontsource            # install every family below that is missing
    python -m ocr_common.fontsource --dest DIR gaegu sunflower pretendard
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from functools import partial
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
    "bagel-fat-one",
    "black-and-white-picture",
    "grandiflora-one",
    "moirai-one",
)
# Korean faces on npm outside Fontsource, as ready files: package → its regular and bold cuts.
READY_MADE = {
    "pretendard": (
        "dist/public/static/alternative/Pretendard-Regular.ttf",
        "dist/public/static/alternative/Pretendard-Bold.ttf",
    ),
    "spoqa-han-sans": (
        "Subset/SpoqaHanSansNeo/SpoqaHanSansNeo-Regular.ttf",
        "Subset/SpoqaHanSansNeo/SpoqaHanSansNeo-Bold.ttf",
    ),
    "galmuri": ("dist/Galmuri11.ttf", "dist/Galmuri11-Bold.ttf"),  # pixel faces, like LED signs
}
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


def _unpack(package: str, scratch: Path) -> Path:
    """`npm pack` one package into `scratch`; returns its unpacked `package/` folder."""
    packed = subprocess.run(
        ["npm", "pack", "--silent", package],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    if packed.returncode != 0:
        reason = (packed.stderr.strip().splitlines() or ["npm pack failed"])[-1]
        raise RuntimeError(reason)
    archive = next(scratch.glob("*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    return scratch / "package"


def install_family(family: str, dest: Path) -> list[Path]:
    """Download `@fontsource/<family>` with npm and write its merged weights under `dest`."""
    with tempfile.TemporaryDirectory() as scratch:
        package = _unpack(f"@fontsource/{family}", Path(scratch))
        written = []
        for weight, subsets in merged_weights(package).items():
            output = dest / f"{family}-{weight}.ttf"
            merge_subsets(subsets, output)
            written.append(output)
        return written


def install_ready_made(package: str, files: tuple[str, ...], dest: Path) -> list[Path]:
    """Download an npm package and copy its `files` to `dest` as `<package>-<file name>`."""
    with tempfile.TemporaryDirectory() as scratch:
        unpacked = _unpack(package, Path(scratch))
        written = []
        for file in files:
            output = dest / f"{package}-{Path(file).name}"
            shutil.copyfile(unpacked / file, output)
            written.append(output)
        return written


def install(
    families: tuple[str, ...] = FAMILIES,
    ready_made: dict[str, tuple[str, ...]] = READY_MADE,
    dest: Path = DEFAULT_DEST,
) -> int:
    """Install what is missing; returns how many packages could not be (each said in one line)."""
    if shutil.which("npm") is None:
        print("fontsource: npm not found; skipping the npm Korean families")
        return len(families) + len(ready_made)
    dest.mkdir(parents=True, exist_ok=True)
    jobs = {family: partial(install_family, family, dest) for family in families}
    jobs |= {
        pkg: partial(install_ready_made, pkg, files, dest) for pkg, files in ready_made.items()
    }
    failed = 0
    for name, job in jobs.items():
        if any(dest.glob(f"{name}-*.ttf")):
            continue
        try:
            written = job()
            print(f"fontsource: {name}: {', '.join(p.name for p in written)}")
        except (RuntimeError, OSError, StopIteration) as error:
            failed += 1
            print(f"fontsource: {name}: not installed ({error})")
    if shutil.which("fc-cache"):
        subprocess.run(["fc-cache", "-f", str(dest)], check=False, capture_output=True)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        help=f"families or packages (default: all {len(FAMILIES) + len(READY_MADE)})",
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args()
    names = tuple(args.names)
    families = tuple(n for n in names if n not in READY_MADE) if names else FAMILIES
    ready_made = {n: READY_MADE[n] for n in names if n in READY_MADE} if names else READY_MADE
    failed = install(families, ready_made, args.dest)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
