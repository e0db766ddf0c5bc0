"""Train the VQVAE or the GPT-2 as the distributed and resume tests need it:

    python tests/train_driver.py {vqvae,gpt2} CONFIG RUN_DIR [key=value ...]
        [--record FOLDER] [--sleep SECONDS]

--record: each rank saves FOLDER/rank<N>.pt: every step's dataset indices and loss, and the
final weights. --sleep: pause after each step, so a test can kill the run between checkpoints.
Under DDP, Lightning starts the other ranks by running this same command line again.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from ocr_common.config import load_config

INDEX_KEY = {"vqvae": "indices", "gpt2": "index"}  # a batch's dataset indices


class Record(Callback):
    def __init__(self, folder: Path, index_key: str) -> None:
        self.folder, self.index_key = folder, index_key
        self.indices: list[list[int]] = []
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.indices.append(batch[self.index_key].tolist())
        self.losses.append(float(outputs["loss"]))

    def on_train_end(self, trainer, module) -> None:
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        record = {"indices": self.indices, "losses": self.losses, "state": state}
        torch.save(record, self.folder / f"rank{trainer.global_rank}.pt")


class Sleep(Callback):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, *args) -> None:
        time.sleep(self.seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=sorted(INDEX_KEY))
    parser.add_argument("config")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--record", type=Path)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_intermixed_args()
    if args.model == "vqvae":
        from vqvae.config import VQVAEConfig as Config
        from vqvae.training import train
    else:
        from inverse_dalle.config import InverseDalleConfig as Config
        from inverse_dalle.training import train
    callbacks: list[Callback] = []
    if args.record:
        callbacks.append(Record(args.record, INDEX_KEY[args.model]))
    if args.sleep:
        callbacks.append(Sleep(args.sleep))
    train(load_config(Config, args.config, args.overrides), args.run_dir, callbacks=callbacks)


if __name__ == "__main__":
    main()
