"""Draw text-line images: python src/generate.py MODEL_DIR "문자 인식 모델" [--num-images N] …

MODEL_DIR is a text_to_image export (src/finetune.py). With --unconditional instead of a prompt,
MODEL_DIR is a reader (src/export.py) that draws from nothing and captions its own images.
--reader OCR_DIR reads every image back and reports how many say what was asked; with
--candidates K it also draws K images for each one kept and keeps the one it most likely reads as
the prompt (as DALL-E reranked its samples with CLIP).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers.utils import logging as transformers_logging

from inverse_dalle.generation import CAPTIONS_FILE, SUMMARY_FILE, GenerationRequest, generate
from ocr_common.errors import UserError, run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="exported model directory")
    parser.add_argument("prompt", nargs="?", help="the text to draw")
    parser.add_argument("--unconditional", action="store_true", help="no prompt; a reader draws")
    parser.add_argument("--num-images", type=int, default=8)
    parser.add_argument("--output-dir", default="generated", help="replaced if it exists")
    parser.add_argument("--top-k", type=int, help="default: the model's generation_config.json")
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--seed", type=int, default=0, help="same seed, same images")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reader", help="OCR export that reads each image back")
    parser.add_argument(
        "--candidates", type=int, default=1, help="draw K per image; the reader keeps the best"
    )
    args = parser.parse_args()
    if args.unconditional == (args.prompt is not None):
        raise UserError("give either a prompt or --unconditional")
    transformers_logging.disable_progress_bar()
    overrides = {"top_k": args.top_k, "top_p": args.top_p, "temperature": args.temperature}
    summary = generate(
        GenerationRequest(
            model_dir=Path(args.model_dir),
            prompt=args.prompt,
            output_dir=Path(args.output_dir),
            num_images=args.num_images,
            seed=args.seed,
            batch_size=args.batch_size,
            sampling={k: v for k, v in overrides.items() if v is not None},
            reader_dir=Path(args.reader) if args.reader else None,
            candidates=args.candidates,
        )
    )
    repairs = summary["repairs"]
    print(
        f"drew {summary['num_images']} image(s) in {summary['seconds']:.1f} s "
        f"({summary['images_per_second']:.1f} images/s); {repairs['repaired']} repaired "
        f"(ragged {repairs['ragged']}, misplaced [ROW] {repairs['misplaced_row']}, too long "
        f"{repairs['too_long']}, empty {repairs['empty']}); {args.output_dir}/{CAPTIONS_FILE}"
    )
    if "read_back" in summary:
        read_back = summary["read_back"]
        print(
            f"read back by {args.reader}: {read_back['word_accuracy']:.1%} say the "
            f"{'prompt' if args.prompt else 'self-caption'} exactly (CER {read_back['cer']:.3f}); "
            f"{args.output_dir}/{SUMMARY_FILE}"
        )
    if "read_back_all_candidates" in summary:
        print(
            f"best of {args.candidates} by the same reader; all candidates read back "
            f"{summary['read_back_all_candidates']['word_accuracy']:.1%} right"
        )


if __name__ == "__main__":
    run_cli(main)
