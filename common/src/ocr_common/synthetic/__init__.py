"""Synthetic Korean text-line images: the dataset that needs nothing downloaded.

`synthesize(output_dir, num_train=…, num_validation=…, num_test=…)` writes
`{train,validation,test-heldout-fonts}.csv` (`img_path,text,orientation,font,source`) and PNGs
under `images/<split>/`, the same table the AIHub preprocessing writes.
"""

from ocr_common.synthetic.coverage import CharacterCoverage, character_coverage
from ocr_common.synthetic.generate import SPLITS, SynthesisReport, synthesize
from ocr_common.synthetic.texts import TextSampler

__all__ = [
    "SPLITS",
    "CharacterCoverage",
    "SynthesisReport",
    "TextSampler",
    "character_coverage",
    "synthesize",
]
