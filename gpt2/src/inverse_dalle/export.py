"""A trained module → one Hugging Face directory holding all that reading (or drawing) needs."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import GenerationConfig, GPT2LMHeadModel, PreTrainedTokenizerFast

from inverse_dalle import export_format
from inverse_dalle.config import InverseDalleConfig, SamplingConfig
from inverse_dalle.export_format import FORMAT_FILE, VOCAB_FILE, VQVAE_DIR
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.token_format import FORMAT_VERSION, IMAGE_TO_TEXT, TEXT_TO_IMAGE, TokenLayout
from inverse_dalle.vocabulary import BOS, EOS, PAD, UNK, Vocabulary
from ocr_common.atomic import atomic_directory, check_replaceable
from ocr_common.config import config_to_dict
from ocr_common.errors import UserError
from ocr_common.json_files import write_json
from vqvae.token_table import check_codebook, meta_path, read_meta

# Keys of the config that shape the model or its inputs: the checkpoint's values must match.
CHECKED_KEYS = {
    "data": ("num_visual_tokens", "max_visual_length", "max_text_length", "text_unit"),
    "model": ("n_positions", "n_embd", "n_layer", "n_head", "activation_function"),
}


def check_same_model(config: InverseDalleConfig, module: OCRModule) -> None:
    """The checkpoint's values of CHECKED_KEYS are the config's; a key the config leaves unset
    (one training took from the token table) is the checkpoint's."""
    given, trained = config_to_dict(config), config_to_dict(module.config)
    for section, keys in CHECKED_KEYS.items():
        for key in keys:
            if given[section][key] is not None and given[section][key] != trained[section][key]:
                raise UserError(
                    f"checkpoint trained with {section}.{key}={trained[section][key]}, "
                    f"the config says {given[section][key]}"
                )


def training_tables(module: OCRModule, config: InverseDalleConfig) -> str | None:
    """The token table the checkpoint was trained on, as its own config records it (a
    `data.train_dataset=…` given on the training command line is there, not in the YAML file),
    else the given config's; None where neither has a .meta.json."""
    for tables in (module.config.data.train_dataset, config.data.train_dataset):
        if tables and meta_path(tables).is_file():
            return tables
    return None


def build_tokenizer(vocabulary: Vocabulary, layout: TokenLayout) -> PreTrainedTokenizerFast:
    """A character-level fast tokenizer over the whole id space ([ROW], [IMG_PAD], codes too)."""
    names = [*vocabulary.tokens, "[ROW]", "[IMG_PAD]"]
    names += [f"<code_{i}>" for i in range(layout.num_codes)]
    tokenizer = Tokenizer(WordLevel({name: i for i, name in enumerate(names)}, unk_token=UNK))
    tokenizer.normalizer = (
        normalizers.NFD() if vocabulary.text_unit == "jamo" else normalizers.NFC()
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=["[ROW]", "[IMG_PAD]"],
        model_max_length=layout.sequence_length,
    )


def format_metadata(module: OCRModule, vqvae_sha256: str | None, order: str) -> dict[str, Any]:
    return export_format.format_metadata(
        module.layout, module.vocabulary, config_to_dict(module.config), vqvae_sha256, order
    )


def model_card(module: OCRModule, has_vqvae: bool, half: bool) -> str:
    """README.md of a reader export."""
    config, layout = module.config, module.layout
    parameters = sum(p.numel() for p in module.model.parameters())
    reading = (
        "`vqvae/` holds the VQVAE that turns an image into visual tokens, so images can be read "
        "directly."
        if has_vqvae
        else "No VQVAE is bundled: this model reads token tables only."
    )
    return f"""---
language: ko
library_name: transformers
tags: [ocr, korean, gpt2, vqvae]
---
# Inverse DALL-E OCR reader

A GPT-2 ({config.model.n_layer} layers, {config.model.n_embd} wide, {parameters / 1e6:.1f} M
parameters) that reads rows of VQVAE visual tokens and writes the Korean text they show.
{reading}

**It reads single cropped text lines**, horizontal or vertical (syllables stacked top to bottom),
one line per image. It does not read whole photos or pages: a photo read whole gives one
meaningless reading. For those, `inverse-dalle read-page this-directory photo.jpg` finds the
lines first (Tesseract's layout analysis) or crops given boxes (`--boxes`, a table or AIHub JSON).

- Text unit: {module.vocabulary.text_unit}; {layout.text_vocab_size} text tokens (vocab.txt).
- Sequence: `[ROW] r1 … [ROW] rh [IMG_PAD]* <s> text </s>`, at most {layout.max_visual_length}
  visual tokens and {layout.max_text_length} text tokens; token format version {FORMAT_VERSION}.
- Codebook: {layout.num_codes} codes, ids from {layout.code_offset}.
- Weights: GPT-2 stored as {"float16" if half else "float32"}, loaded as float32.

How to load it: install the package (`pip install .` in the Inverse DALL-E OCR repository, with
torch first), then

```python
from inverse_dalle import InverseDalleOCR
ocr = InverseDalleOCR.from_pretrained("this-directory")
text, confidence = ocr.read("line.png")
```

or `inverse-dalle read this-directory FOLDER_OF_LINE_IMAGES --output readings.csv`. The weights
load with plain `transformers.AutoModelForCausalLM.from_pretrained`, but no transformers pipeline
reads with them: reading needs the VQVAE and the sequence format above (see `inverse_dalle.json`).
"""


def drawer_card(module: OCRModule, sampling: SamplingConfig) -> str:
    """README.md of a text-to-image export."""
    config, layout = module.config, module.layout
    parameters = sum(p.numel() for p in module.model.parameters())
    return f"""---
language: ko
library_name: transformers
tags: [korean, gpt2, vqvae, text-to-image]
---
# Inverse DALL-E text-line drawer

A GPT-2 ({config.model.n_layer} layers, {config.model.n_embd} wide, {parameters / 1e6:.1f} M
parameters) finetuned from an Inverse DALL-E OCR reader to draw: given a Korean text it samples
rows of VQVAE visual tokens, and the VQVAE decoder in `vqvae/` turns them into pixels.

- Text unit: {module.vocabulary.text_unit}; {layout.text_vocab_size} text tokens (vocab.txt).
- Sequence: `<s> text </s> <pad>* [ROW] r1 … [ROW] rh [IMG_PAD]`; the first [IMG_PAD] ends the
  image. At most {layout.max_text_length} text tokens and {layout.max_visual_length} visual tokens;
  token format version {FORMAT_VERSION}.
- Sampling defaults (generation_config.json): top_k={sampling.top_k}, top_p={sampling.top_p},
  temperature={sampling.temperature}, classifier-free guidance scale {sampling.guidance_scale}.

```bash
python src/generate.py this-directory "문자 인식 모델" --num-images 8 --output-dir drawn
```
"""


def generation_config(module: OCRModule, order: str, sampling: SamplingConfig) -> GenerationConfig:
    """Greedy reading up to max_text_length, or sampling up to a whole image."""
    model, layout = module.model, module.layout
    if order == IMAGE_TO_TEXT:
        return GenerationConfig(
            bos_token_id=model.config.bos_token_id,
            eos_token_id=model.config.eos_token_id,
            pad_token_id=model.config.pad_token_id,
            max_new_tokens=layout.max_text_length + 1,
            do_sample=False,
        )
    return GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=layout.image_pad_id,  # ends an image
        pad_token_id=layout.image_pad_id,
        max_new_tokens=layout.max_visual_length,
        do_sample=True,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        temperature=sampling.temperature,
        guidance_scale=sampling.guidance_scale,  # our sampler's; not transformers' generate()
    )


@dataclass(frozen=True)
class ExportReport:
    output_dir: Path
    num_parameters: int
    has_vqvae: bool


def export_model(
    module: OCRModule,
    config: InverseDalleConfig,
    output_dir: str | os.PathLike,
    order: str = IMAGE_TO_TEXT,
    sampling: SamplingConfig | None = None,
    half: bool = False,
    overwrite: bool = False,
) -> ExportReport:
    """Write the export directory; it appears only once complete (built beside it, then renamed).

    `order` is the sequence layout the model was trained on last (`TEXT_TO_IMAGE` after
    finetuning); `sampling` gives a drawing model's default generation settings. `half` stores the
    GPT-2 weights as float16 (half the size, loaded back as float32); the bundled VQVAE stays
    float32 so that its nearest-code choices are exactly those the reader was trained on.
    An existing `output_dir` is replaced only if it is an export or empty, or with `overwrite`.
    """
    check_replaceable(Path(output_dir), FORMAT_FILE, overwrite)
    check_same_model(config, module)
    sampling = sampling or SamplingConfig()
    vqvae_dir = Path(config.data.vqvae) if config.data.vqvae else None
    vqvae_sha256 = None
    if vqvae_dir is not None:
        from vqvae import ImageTokenizer  # only an export that bundles a VQVAE needs it

        tokenizer = ImageTokenizer.from_pretrained(vqvae_dir)
        tables = training_tables(module, config)
        if tables is not None:  # images must become grids like the tables' rows
            tokenizer.max_visual_length = read_meta(tables).max_visual_length
        check_codebook(
            f"{vqvae_dir}: VQVAE",
            tokenizer.num_codes,
            "the model reads",
            module.layout.num_codes,
        )
        vqvae_sha256 = tokenizer.sha256
    output = Path(output_dir)
    with atomic_directory(output, FORMAT_FILE, overwrite) as staging:
        model: GPT2LMHeadModel = copy.deepcopy(module.model).half() if half else module.model
        model.save_pretrained(staging, safe_serialization=True)
        generation_config(module, order, sampling).save_pretrained(staging)
        module.vocabulary.save(staging / VOCAB_FILE)
        build_tokenizer(module.vocabulary, module.layout).save_pretrained(staging)
        write_json(staging / FORMAT_FILE, format_metadata(module, vqvae_sha256, order))
        card = (
            drawer_card(module, sampling)
            if order == TEXT_TO_IMAGE
            else model_card(module, vqvae_dir is not None, half)
        )
        (staging / "README.md").write_text(card, "utf-8")
        if vqvae_dir is not None:
            tokenizer.save_pretrained(staging / VQVAE_DIR)
    parameters = sum(p.numel() for p in module.model.parameters())
    return ExportReport(output, parameters, vqvae_dir is not None)
