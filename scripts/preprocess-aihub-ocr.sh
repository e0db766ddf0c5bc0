#!/usr/bin/env bash
# Crop AIHub's Korean OCR set (signs, book covers) into OUT/train.csv and OUT/validation.csv.
#
#   bash scripts/preprocess-aihub-ocr.sh AIHUB_ROOT [OUT]        (OUT defaults to resources/aihub)
#
# Every label folder under AIHUB_ROOT whose name contains 라벨 ("[라벨]Training", "라벨링데이터")
# is paired with the folder named alike with 원천 ("[원천]Training", "원천데이터"): beside it, or
# else the only one so named anywhere under AIHUB_ROOT, or else the only 원천 folder of the same
# split (the download pairs "[라벨]Training" with "[원천]Training_간판_…_원천데이터 1"). A folder's
# split comes from its path (Training → train, Validation → validation). scripts/process_external_dataset.py does the work per pair; this
# script only pairs the folders and concatenates the per-pair tables.
set -euo pipefail

root="${1:?usage: bash scripts/preprocess-aihub-ocr.sh AIHUB_ROOT [OUT]}"
root="${root%/}"
out="${2:-resources/aihub}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3

source_folder() {  # the 원천 folder paired with label folder "$1" of split pattern "$2", or nothing
  local name candidate found=()
  name="$(basename "$1")"
  name="${name/라벨링데이터/원천데이터}"
  name="${name/라벨/원천}"
  if [[ -d "$(dirname "$1")/$name" ]]; then
    found=("$(dirname "$1")/$name")
  else  # compare names in bash: find -name would read the brackets of [원천] as a glob
    while IFS= read -r -d '' candidate; do
      [[ "$(basename "$candidate")" == "$name" ]] && found+=("$candidate")
    done < <(find "$root" -type d -name '*원천*' -print0)
    if [[ ${#found[@]} -eq 0 ]]; then
      while IFS= read -r -d '' candidate; do
        [[ "${candidate#"$root"/}" == $2 ]] && found+=("$candidate")
      done < <(find "$root" -type d -name '*원천*' -prune -print0)
    fi
  fi
  if [[ ${#found[@]} -eq 1 ]]; then printf '%s\n' "${found[0]}"; fi
}

mkdir -p "$out"
for split in train validation; do
  [[ $split == train ]] && pattern='*[Tt]rain*' || pattern='*[Vv]alid*'
  parts=()
  while IFS= read -r -d '' labels; do
    relative="${labels#"$root"/}"
    [[ "$relative" == $pattern ]] || continue
    images="$(source_folder "$labels" "$pattern")"
    if [[ -z "$images" ]]; then
      echo "error: $labels: no single matching 원천 (source image) folder found" >&2
      exit 2
    fi
    # A stable name per label folder: re-runs rewrite the same crops, pairs never collide.
    key="$split-$(printf '%s' "$relative" | cksum | cut -d ' ' -f 1)"
    echo "$split: $labels ← $images"
    "$python" "$repo/scripts/process_external_dataset.py" "$labels" "$images" \
      --output-dir "$out/images/$key" --output-dataset "$out/.$key.csv"
    parts+=("$out/.$key.csv")
  done < <(find "$root" -type d -name '*라벨*' -prune -print0 | sort -z)

  if [[ ${#parts[@]} -eq 0 ]]; then
    echo "warning: no $split label folder (name with 라벨) under $root" >&2
    continue
  fi
  # The parts share one header and sit in OUT, so their img_path columns are already right.
  { head -n 1 "${parts[0]}"; tail -q -n +2 "${parts[@]}"; } >"$out/.$split.csv.partial"
  mv "$out/.$split.csv.partial" "$out/$split.csv"
  rm -f "${parts[@]}"
  echo "$split: $(($(wc -l <"$out/$split.csv") - 1)) crops in $out/$split.csv"
done
