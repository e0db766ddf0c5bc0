"""Render the synthetic Korean text-line dataset: train, validation and held-out-font test tables.

python scripts/synthesize_dataset.py OUT_DIR --train 10000 --validation 1000 --test 1000
"""

from __future__ import annotations

import argparse

from ocr_common.errors import run_cli
from ocr_common.synthetic import synthesize


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", help="folder for the tables and images/<split>/")
    parser.add_argument("--train", type=int, default=10_000, help="training images")
    parser.add_argument("--validation", type=int, default=1_000, help="validation images")
    parser.add_argument("--test", type=int, default=1_000, help="held-out-font test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--vertical-share", type=float, default=0.3, help="share of vertical text")
    parser.add_argument("--min-height", type=int, default=16, help="smallest text height in px")
    parser.add_argument("--max-height", type=int, default=64, help="largest text height in px")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--plain", action="store_true", help="black on white, upright, sharp")
    parser.add_argument("--font-family", help="only fonts whose name matches this regex")
    parser.add_argument(
        "--sign-effects",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of training images with sign/photo effects (letter spacing, outlines, "
        "shadows, perspective, textures, glare, blur, low resolution, crops); validation and test "
        "never get them",
    )
    parser.add_argument(
        "--glyph-variation",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of training images whose glyphs are drawn bolder or lighter, narrower or "
        "wider, slanted or warped, as another face would; validation and test never get it",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    report = synthesize(
        args.output_dir,
        num_train=args.train,
        num_validation=args.validation,
        num_test=args.test,
        seed=args.seed,
        workers=args.workers,
        min_height=args.min_height,
        max_height=args.max_height,
        vertical_share=args.vertical_share,
        progress=not args.no_progress,
        plain=args.plain,
        font_family=args.font_family,
        sign_share=args.sign_effects,
        variation_share=args.glyph_variation,
    )
    print(report.summary())


if __name__ == "__main__":
    run_cli(main)
