"""Train the reader: python src/train.py CONFIG [key=value ...] [--resume-from CKPT]"""

from __future__ import annotations

from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.training import train
from ocr_common.config import load_config, run_dir_of, training_arguments
from ocr_common.errors import run_cli


def main() -> None:
    parser = training_arguments(__doc__, "config/gpt2-tiny.yaml")
    args = parser.parse_intermixed_args()
    config = load_config(InverseDalleConfig, args.config, args.overrides)
    run_dir = run_dir_of(args)
    report = train(config, run_dir, args.resume_from)
    print(
        f"trained on {report.num_train} sequences ({report.num_truncated} texts truncated, "
        f"{report.num_unknown_characters} unknown characters); checkpoint {run_dir / 'last.ckpt'}"
    )


if __name__ == "__main__":
    run_cli(main)
