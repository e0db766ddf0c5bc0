"""Finetune a reader to draw: python src/finetune.py CONFIG [key=value ...] [--resume-from CKPT]

`model:` in CONFIG is an exported reader (src/export.py); the finetuned model is exported to
--export-dir (default exports/<config name>) for src/generate.py.
"""

from __future__ import annotations

from pathlib import Path

from transformers.utils import logging as transformers_logging

from inverse_dalle.config import FinetuneConfig
from inverse_dalle.finetuning import finetune
from ocr_common.config import load_config, run_dir_of, training_arguments
from ocr_common.errors import run_cli


def main() -> None:
    parser = training_arguments(__doc__, "config/gpt2-tiny-finetune.yaml")
    parser.add_argument("--export-dir", help="the drawing model (default: exports/<config name>)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --export-dir even if it is not an export (everything in it is deleted)",
    )
    args = parser.parse_intermixed_args()
    config = load_config(FinetuneConfig, args.config, args.overrides)
    transformers_logging.disable_progress_bar()  # stderr stays for errors
    report = finetune(
        config,
        run_dir_of(args),
        Path(args.export_dir or Path("exports") / Path(args.config).stem),
        args.resume_from,
        overwrite=args.overwrite,
    )
    print(
        f"finetuned on {report.num_train} text-first sequences ({report.num_truncated} text(s) "
        f"truncated, {report.num_unknown_characters} unknown characters); text_to_image model "
        f"exported to {report.export_dir}"
    )


if __name__ == "__main__":
    run_cli(main)
