"""Train the VQVAE: python src/train.py CONFIG [key=value ...] [--resume-from CKPT] [--run-dir D]"""

from __future__ import annotations

from ocr_common.config import load_config, run_dir_of, training_arguments
from ocr_common.errors import run_cli
from vqvae.config import VQVAEConfig
from vqvae.training import train


def main() -> None:
    parser = training_arguments(__doc__, "config/vqvae-tiny.yaml")
    args = parser.parse_intermixed_args()  # key=value overrides may follow options
    config = load_config(VQVAEConfig, args.config, args.overrides)
    run_dir = run_dir_of(args)
    report = train(config, run_dir, args.resume_from)
    print(
        f"trained: {report.images_per_second:.1f} images/s, "
        f"{report.padded_pixel_share:.1%} padded pixels, {report.num_skipped} unreadable skipped; "
        f"checkpoint {report.run_dir / 'last.ckpt'}"
    )


if __name__ == "__main__":
    run_cli(main)
