"""Render the three splits in parallel and write their dataset tables.

Item `i` of a split draws all its randomness from `default_rng([seed, split, i])`, so the output
is byte-identical for a seed whatever the number of workers or the chunking.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ocr_common.atomic import atomic_path
from ocr_common.cores import available_cores
from ocr_common.errors import UserError
from ocr_common.fonts import HELDOUT, TRAIN, FontFace, draws_text, fonts_by_split
from ocr_common.synthetic.coverage import CharacterCoverage, character_coverage
from ocr_common.synthetic.render import render_text_image
from ocr_common.synthetic.texts import TextSampler
from ocr_common.tables import write_table

# split → (font group, random stream id)
SPLITS = {"train": (TRAIN, 0), "validation": (TRAIN, 1), "test-heldout-fonts": (HELDOUT, 2)}
COLUMNS = ("img_path", "text", "orientation", "font", "source")
CHUNK_SIZE = 64
MAX_TEXT_DRAWS = 100  # texts drawn for one font before giving up on it (never reached in practice)


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs to render any item of any split."""

    output_dir: Path
    seed: int
    min_height: int
    max_height: int
    vertical_share: float
    plain: bool
    sign_share: float  # of the training images, drawn with sign_effects
    variation_share: float  # of the training images, drawn with glyph_variation
    fonts: dict[str, tuple[FontFace, ...]]
    sampler: TextSampler
    name_width: int


@dataclass
class SynthesisReport:
    output_dir: Path
    counts: dict[str, int]
    fonts: dict[str, list[str]]  # split → names of the fonts its images use
    coverage: dict[str, CharacterCoverage]  # split → coverage of its texts
    redrawn_texts: int  # texts replaced because the chosen font does not draw one of their chars
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return sum(self.counts.values()) / max(self.seconds, 1e-9)

    def summary(self) -> str:
        lines = [f"wrote {sum(self.counts.values())} images to {self.output_dir}"]
        for split, count in self.counts.items():
            lines.append(
                f"  {split}: {count} images, {len(self.fonts[split])} fonts; "
                f"coverage {self.coverage[split]}"
            )
        lines.append(f"  texts redrawn for a font lacking a glyph: {self.redrawn_texts}")
        lines.append(f"  {self.seconds:.1f} s, {self.images_per_second:.0f} images/s")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


_job: _Job | None = None  # set once per worker process by _start_worker


def _start_worker(job: _Job) -> None:
    global _job
    _job = job


def _make_item(job: _Job, split: str, index: int) -> tuple[dict[str, str], int]:
    """Render item `index` of `split`; returns its table row and how many texts were redrawn."""
    group, stream = SPLITS[split]
    rng = np.random.default_rng([job.seed, stream, index])
    fonts = job.fonts[group]
    vertical = bool(rng.random() < job.vertical_share)
    for draws in range(MAX_TEXT_DRAWS):
        if draws % 10 == 0:  # a font that keeps failing is swapped for another
            face = fonts[rng.integers(len(fonts))]
        text, source = job.sampler.sample(rng)
        if draws_text(face, text):
            break
    else:
        raise RuntimeError(f"{split} item {index}: no font among {len(fonts)} draws the texts")
    signs = _drawn_for_share(split, job.sign_share, rng)
    varied = _drawn_for_share(split, job.variation_share, rng)
    image = render_text_image(
        text, face, vertical, rng, job.min_height, job.max_height, job.plain, signs, varied
    )
    relative = f"images/{split}/{index:0{job.name_width}d}.png"
    with atomic_path(job.output_dir / relative) as tmp:
        image.save(tmp, format="PNG")
    orientation = "vertical" if vertical else "horizontal"
    row = {"img_path": relative, "text": text, "orientation": orientation, "font": face.name}
    return {**row, "source": source}, draws


def _drawn_for_share(split: str, share: float, rng: np.random.Generator) -> bool:
    """Whether this image gets an effect meant for `share` of the training images. Validation and
    test never do, so they stay comparable across runs; a share of 0 draws nothing from `rng`,
    so a seed's images stay what they were before the effect existed."""
    return split == "train" and share > 0 and bool(rng.random() < share)


def _render_chunk(task: tuple[str, int, int]) -> tuple[str, list[dict[str, str]], int]:
    split, start, stop = task
    assert _job is not None, "worker not started"
    items = [_make_item(_job, split, index) for index in range(start, stop)]
    return split, [row for row, _ in items], sum(redraws for _, redraws in items)


def _run_chunks(
    job: _Job, tasks: list[tuple[str, int, int]], workers: int | None
) -> Iterator[tuple[str, list[dict[str, str]], int]]:
    """Chunk results in task order, from a process pool or, for one worker, in this process."""
    workers = min(workers or available_cores(), len(tasks))
    if workers <= 1:
        _start_worker(job)
        yield from map(_render_chunk, tasks)
        return
    with multiprocessing.Pool(workers, _start_worker, (job,)) as pool:
        yield from pool.imap(_render_chunk, tasks)


def _check_arguments(
    counts: dict[str, int], seed: int, workers: int | None, heights: tuple[int, int], share: float
) -> None:
    if seed < 0:
        raise UserError(f"seed must be ≥ 0, not {seed}")
    if workers is not None and workers < 1:
        raise UserError(f"workers must be ≥ 1, not {workers}")
    min_height, max_height = heights
    for split, count in counts.items():
        if count < 0:
            raise UserError(f"number of {split} images must be ≥ 0, not {count}")
    if not 4 <= min_height <= max_height:
        raise UserError(f"text heights must satisfy 4 ≤ min ≤ max, not {min_height}–{max_height}")
    if not 0.0 <= share <= 1.0:
        raise UserError(f"vertical share must be between 0 and 1, not {share}")


def _fonts_for(counts: dict[str, int], font_family: str | None) -> dict[str, tuple[FontFace, ...]]:
    found = fonts_by_split()
    if font_family:  # a regular expression the font's name must start with
        pattern = re.compile(font_family)
        found = {
            group: [f for f in faces if pattern.match(f.name)] for group, faces in found.items()
        }
    for split, count in counts.items():
        group = SPLITS[split][0]
        if count and not found[group]:
            raise UserError(
                f"no {group} font{f' matching {font_family!r}' if font_family else ''} found for "
                f"the {split} split (see `python -m ocr_common.fonts --summary`)"
            )
    return {group: tuple(faces) for group, faces in found.items()}


def synthesize(
    output_dir: str | os.PathLike,
    *,
    num_train: int,
    num_validation: int,
    num_test: int,
    seed: int = 0,
    workers: int | None = None,
    min_height: int = 16,
    max_height: int = 64,
    vertical_share: float = 0.3,
    progress: bool = True,
    plain: bool = False,
    font_family: str | None = None,
    sign_share: float = 0.0,
    variation_share: float = 0.0,
) -> SynthesisReport:
    """Write `output_dir/{train,validation,test-heldout-fonts}.csv` and their PNG images.

    `plain`: black on white, upright, sharp; `font_family`: only fonts whose name matches it;
    `sign_share`: the share of training images drawn with sign and photo effects;
    `variation_share`: the share drawn with glyph-shape variation (weight, width, slant, warp).
    """
    started = time.perf_counter()
    counts = {"train": num_train, "validation": num_validation, "test-heldout-fonts": num_test}
    _check_arguments(counts, seed, workers, (min_height, max_height), vertical_share)
    for name, share in (("sign-effect", sign_share), ("glyph-variation", variation_share)):
        if not 0.0 <= share <= 1.0:
            raise UserError(f"{name} share must be between 0 and 1, not {share}")
    sampler = TextSampler()
    job = _Job(
        output_dir=Path(output_dir),
        seed=seed,
        min_height=min_height,
        max_height=max_height,
        vertical_share=vertical_share,
        plain=plain,
        sign_share=sign_share,
        variation_share=variation_share,
        fonts=_fonts_for(counts, font_family),
        sampler=sampler,
        name_width=max(6, len(str(max(counts.values()) - 1))),
    )
    tasks = [
        (split, start, min(start + CHUNK_SIZE, count))
        for split, count in counts.items()
        for start in range(0, count, CHUNK_SIZE)
    ]
    rows: dict[str, list[dict[str, str]]] = {split: [] for split in counts}
    redrawn = 0
    with tqdm(total=sum(counts.values()), unit="img", disable=not progress) as bar:
        for split, chunk_rows, chunk_redrawn in _run_chunks(job, tasks, workers):
            rows[split].extend(chunk_rows)
            redrawn += chunk_redrawn
            bar.update(len(chunk_rows))
    tables = {
        split: pd.DataFrame(split_rows, columns=COLUMNS) for split, split_rows in rows.items()
    }
    for split, table in tables.items():
        write_table(table, job.output_dir / f"{split}.csv")
    return SynthesisReport(
        output_dir=job.output_dir,
        counts=counts,
        fonts={split: sorted(set(table["font"])) for split, table in tables.items()},
        coverage={split: character_coverage(table["text"]) for split, table in tables.items()},
        redrawn_texts=redrawn,
        seconds=time.perf_counter() - started,
        notes=list(sampler.notes),
    )
