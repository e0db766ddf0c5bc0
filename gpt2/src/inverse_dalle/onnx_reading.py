"""Reading through onnxruntime: the ONNX files of inverse_dalle.onnx_export, same text as
InverseDalleOCR.read.

Images are prepared by the project's own code (load_image, the VQVAE's template and resizing), so
the encoder sees the same tensors as in PyTorch; then greedy decoding runs the whole sequence
through `reader.onnx` once per token (no KV cache) with the positions reading.py gives: image
codes from 0, `<s>` at max_visual_length, the text after it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from inverse_dalle.export_format import (
    VOCAB_FILE,
    VQVAE_DIR,
    layout_from_metadata,
    read_metadata,
)
from inverse_dalle.line_reader import LineReader
from inverse_dalle.onnx_export import CACHED_READER_FILE, ENCODER_FILE, ONNX_DIR, READER_FILE
from inverse_dalle.reading import Reading, length_batches
from inverse_dalle.token_format import IMAGE_TO_TEXT, TokenLayout
from inverse_dalle.vocabulary import BOS_ID, EOS_ID, Vocabulary
from ocr_common.config import ConfigError, config_from_dict
from ocr_common.errors import UserError
from ocr_common.images import to_rgb
from ocr_common.json_files import read_json
from vqvae.config import ModelConfig
from vqvae.images import augmented_view, to_template_tensor
from vqvae.shapes import choose_template
from vqvae.tokenizer import CONFIG_FILE as VQVAE_CONFIG_FILE


def session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU onnxruntime session; `threads` intra-op threads (None: onnxruntime's default)."""
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not path.is_file():
        raise UserError(f"{path}: not found (write it with src/export.py --onnx EXPORT_DIR)")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class OnnxOCR(LineReader):
    def __init__(
        self,
        reader: ort.InferenceSession,
        encoder: ort.InferenceSession,
        layout: TokenLayout,
        vocabulary: Vocabulary,
        vqvae_config: ModelConfig,
        max_visual_length: int,
        cached_reader: ort.InferenceSession | None = None,
    ) -> None:
        self.reader, self.encoder, self.cached_reader = reader, encoder, cached_reader
        self.layout, self.vocabulary = layout, vocabulary
        self.vqvae_config, self.max_visual_length = vqvae_config, max_visual_length

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike,
        onnx_dir: str | os.PathLike | None = None,
        threads: int | None = None,
        use_cache: bool = True,
    ) -> OnnxOCR:
        """The reader of export `directory` with its ONNX files from `onnx_dir` (default
        `<directory>/onnx`); no PyTorch model is loaded. `use_cache`: decode with
        reader_cached.onnx (one token a step) when it is there, else rerun reader.onnx over the
        whole sequence each step."""
        directory = Path(directory)
        onnx_dir = Path(onnx_dir) if onnx_dir is not None else directory / ONNX_DIR
        metadata = read_metadata(directory)
        if metadata["order"] != IMAGE_TO_TEXT:
            raise UserError(f"{directory}: order {metadata['order']}; reading needs a reader")
        vocabulary = Vocabulary.load(directory / VOCAB_FILE, metadata["text_unit"])
        vqvae_path = directory / VQVAE_DIR / VQVAE_CONFIG_FILE
        values = read_json(vqvae_path, "not found (the export has no bundled vqvae/)")
        try:
            vqvae_config = config_from_dict(ModelConfig, values["model"])
        except (KeyError, ConfigError) as error:
            raise UserError(f"{vqvae_path}: bad model config ({error})") from None
        return cls(
            session(onnx_dir / READER_FILE, threads),
            session(onnx_dir / ENCODER_FILE, threads),
            layout_from_metadata(metadata),
            vocabulary,
            vqvae_config,
            int(values["max_length"]),
            session(onnx_dir / CACHED_READER_FILE, threads)
            if use_cache and (onnx_dir / CACHED_READER_FILE).is_file()
            else None,
        )

    def prepare(self, image: Image.Image, view: int = 0) -> np.ndarray:
        """The encoder's input for one image, exactly as ImageTokenizer.prepare makes it."""
        image = to_rgb(image)
        template = choose_template(image.width, image.height, self.max_visual_length)
        tensor, _ = to_template_tensor(
            augmented_view(image, view),
            template,
            self.vqvae_config.downsample,
            self.vqvae_config.encoder.num_channels,
        )
        return tensor.numpy()

    def encode(self, inputs: Sequence[np.ndarray], batch_size: int = 64) -> list[list[list[int]]]:
        """A grid per prepared input, batched by template (the input's shape)."""
        by_template: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for position, array in enumerate(inputs):
            by_template[array.shape].append(position)
        grids: list[list[list[int]]] = [[] for _ in inputs]
        for positions in by_template.values():
            for start in range(0, len(positions), batch_size):
                chunk = positions[start : start + batch_size]
                batch = np.stack([inputs[p] for p in chunk]).astype(np.float32)
                (codes,) = self.encoder.run(None, {"images": batch})
                for position, grid in zip(chunk, codes.tolist(), strict=True):
                    grids[position] = grid
        return grids

    def text_logits(self, input_ids: np.ndarray, position_ids: np.ndarray) -> np.ndarray:
        """(batch, length, text vocabulary) float32 logits of reader.onnx."""
        (logits,) = self.reader.run(
            None,
            {
                "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
                "position_ids": np.ascontiguousarray(position_ids, dtype=np.int64),
            },
        )
        return logits

    def _next_logits(self) -> Iterator[np.ndarray]:
        """Generator protocol of a greedy loop: receives (ids, positions, kept) — the whole
        sequences so far of the rows still reading, and which rows of the previous call those
        are (None: all) — and yields the text logits at their last position."""
        ids, positions, _ = yield np.empty(0)
        past = None
        while True:
            if self.cached_reader is None:
                logits = self.text_logits(ids, positions)[:, -1]
            else:
                if past is None:  # the prompt, from an empty cache
                    inputs = self.cached_reader.get_inputs()[2].shape
                    shape = [
                        ids.shape[0] if i == 2 else 0 if i == 4 else d for i, d in enumerate(inputs)
                    ]
                    past = np.zeros(shape, dtype=np.float32)
                    new_ids, new_positions = ids, positions
                else:  # only the token chosen last
                    new_ids, new_positions = ids[:, -1:], positions[:, -1:]
                logits, past = self.cached_reader.run(
                    None,
                    {
                        "input_ids": np.ascontiguousarray(new_ids, dtype=np.int64),
                        "position_ids": np.ascontiguousarray(new_positions, dtype=np.int64),
                        "past": past,
                    },
                )
            ids, positions, kept = yield logits
            if kept is not None and past is not None:
                past = np.ascontiguousarray(past[:, :, kept])

    def _read_batch(self, visual: list[list[int]]) -> list[Reading]:
        """Greedy, as reading._read_batch: a row that writes </s> leaves the batch."""
        layout = self.layout
        batch, length = len(visual), len(visual[0])
        ids = np.array([[*row, BOS_ID] for row in visual], dtype=np.int64)
        positions = [*range(length), layout.max_visual_length]
        rows = np.arange(batch)  # the rows still reading
        tokens = np.full((batch, layout.max_text_length + 1), EOS_ID, dtype=np.int64)
        log_confidence = np.zeros(batch, dtype=np.float32)
        model = self._next_logits()
        next(model)
        kept = None
        for step in range(layout.max_text_length + 1):
            logits = model.send((ids, np.broadcast_to(positions, ids.shape), kept))
            log_probs = _log_softmax(logits.astype(np.float32))
            best = log_probs.argmax(axis=-1)
            log_confidence[rows] += log_probs[np.arange(len(rows)), best]
            tokens[rows, step] = best
            going = best != EOS_ID
            if step == layout.max_text_length or not going.any():
                break
            kept = None if going.all() else np.flatnonzero(going)
            if kept is not None:
                rows, ids, best = rows[kept], ids[kept], best[kept]
            ids = np.concatenate([ids, best[:, None]], axis=1)
            positions.append(layout.max_visual_length + 1 + step)
        readings = []
        for row, confidence in zip(tokens.tolist(), np.exp(log_confidence).tolist(), strict=True):
            ended = EOS_ID in row  # False when max_text_length was reached without </s>
            readings.append(Reading(row[: row.index(EOS_ID)] if ended else row, confidence, ended))
        return readings

    def read_grids(self, grids: Sequence[list[list[int]]], batch_size: int = 64) -> list[Reading]:
        """Greedy readings of token grids, in order (batched by visual length, as reading.py)."""
        visual = [self.layout.visual_ids(grid) for grid in grids]
        readings: list[Reading | None] = [None] * len(grids)
        for chunk in length_batches(visual, batch_size):
            for index, reading in zip(
                chunk, self._read_batch([visual[i] for i in chunk]), strict=True
            ):
                readings[index] = reading
        return readings
