#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (coverage + AddressSanitizer) and runs one for SECONDS on its
# corpus, seeded from the test data (docs/fuzzing.md):
#
#   ci/fuzz.sh TARGET SECONDS [JOBS]    TARGET: jsonl | manifest | checkpoint | hdf5 | safetensors | tokenizer | all
#
# Corpora grow in Fuzz/corpus/TARGET/ (git-ignored; reused by the next run), findings land in
# Fuzz/findings/TARGET/ (crash-*, timeout-*, oom-*). Any finding fails the run, except for `hdf5`:
# it fuzzes libhdf5 itself (what the child process of docs/checkpoints.md contains), runs with
# -fork/-ignore_crashes to collect libhdf5's crashes, and fails only on a crash in our own code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=${1:?usage: ci/fuzz.sh jsonl|manifest|checkpoint|hdf5|safetensors|tokenizer|all SECONDS [JOBS]}
seconds=${2:-30}
jobs=${3:-1}
targets=(jsonl manifest checkpoint hdf5 safetensors tokenizer)
# --sanitize=fuzzer makes SwiftPM leave `main` to libFuzzer; the -Xswiftc flag, coming last, is the
# one swiftc keeps (it honours only its last -sanitize=): coverage and AddressSanitizer in every
# Swift module, and the same for the C targets.
flags=(-c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
build() {
  local log status=0
  log=$(mktemp)
  swift build --package-path Fuzz "${flags[@]}" "$@" >"$log" 2>&1 || status=$?
  grep -vE '^\[[0-9]+/[0-9]+\]|^Building|^Build (of product|complete)|warning: Cannot export local symbol' "$log" || true
  rm -f "$log"
  return $status
}
if [ "$target" = all ]; then
  # One build of every target, then the runs two at a time (one core each).
  echo "== fuzz: build every target"
  build
  failed=0
  for pair in "jsonl manifest" "checkpoint hdf5" "safetensors tokenizer"; do
    pids=()
    for t in $pair; do FUZZ_BUILT=1 bash "$0" "$t" "$seconds" "$jobs" >"/tmp/fuzz-$t.$$.log" 2>&1 & pids+=($!); done
    for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed=1; done
    for t in $pair; do cat "/tmp/fuzz-$t.$$.log"; rm -f "/tmp/fuzz-$t.$$.log"; done
  done
  exit $failed
fi
case "$target" in
  jsonl) product=FuzzJSONL ;;
  manifest) product=FuzzManifest ;;
  checkpoint) product=FuzzCheckpoint ;;
  hdf5) product=FuzzHDF5 ;;
  safetensors) product=FuzzSafeTensors ;;
  tokenizer) product=FuzzTokenizer ;;
  *) echo "unknown fuzz target '$target' (jsonl, manifest, checkpoint, hdf5, safetensors, tokenizer, all)" >&2; exit 2 ;;
esac

if [ -z "${FUZZ_BUILT:-}" ]; then echo "== fuzz $target: build"; build --product "$product"; fi
binary="$(swift build --package-path Fuzz "${flags[@]}" --show-bin-path)/$product"
test -x "$binary"

# Swift global initializers' one-time allocations are not leaks (Fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0"
corpus=Fuzz/corpus/$target
findings=Fuzz/findings/$target
mkdir -p "$corpus" "$findings"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
case "$target" in
  jsonl)
    # The first byte picks the record type and skip_bad_lines (FuzzJSONL.swift): one seed of each.
    i=0
    for file in Tests/JobsTests/Manifests/data/*.jsonl Tests/JobsTests/Manifests/data/bad-jsonl/*.jsonl; do
      for choice in 0 3 5; do printf "\\$(printf %03o "$choice")" | cat - "$file" >"$seeds/$i-$choice"; done
      i=$((i + 1))
    done ;;
  manifest)
    cp Tests/JobsTests/Manifests/*.yaml Jobs/*.yaml "$seeds/" ;;
  checkpoint | hdf5)
    # Small real checkpoints, stamped (written by the built rlhf) and as they look after an h5py edit.
    rlhf="$(swift build --show-bin-path)/rlhf"
    test -x "$rlhf" || swift build --product rlhf 2>&1 | tail -1
    "$rlhf" _checkpoint-sample "$seeds/no-layers.h5" --layers 0 --embedding 4 --context 4
    "$rlhf" _checkpoint-sample "$seeds/one-layer.h5" --layers 1 --embedding 4 --context 2 --step 3 ;;
  safetensors)
    # Small files in the format's three float dtypes, with and without metadata, written here.
    python3 - "$seeds" <<'PY'
import json, struct, sys
def write(name, tensors, metadata=None):
    header, data = {}, b""
    for key, (dtype, shape, size) in tensors.items():
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes((i * 7) % 256 for i in range(size))
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    with open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
write("f32.safetensors", {"wte": ("F32", [4, 2], 32), "b": ("F32", [2], 8)}, {"format": "pt"})
write("bf16.safetensors", {"model.layers.0.mlp.up_proj.weight": ("BF16", [2, 3], 12)})
write("f16.safetensors", {"x": ("F16", [], 2), "y": ("I64", [1], 8)})
write("empty.safetensors", {})
PY
    ;;
  tokenizer)
    # Small byte-level BPE tokenizers trained by Hugging Face `tokenizers` (installed by ci/setup.sh).
    python3 - "$seeds" <<'PY'
import sys
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
lines = ["Review of the kettle: the lid was sturdy.", "def f(x):\n    return x**2", "café naïve 😀 über", "It's 2026!"] * 20
for name, normalizer, prefix in [("gpt2.json", None, False), ("nfc-prefix.json", normalizers.NFC(), True)]:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                     initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.save(f"{sys.argv[1]}/{name}")
PY
    ;;
esac

echo "== fuzz $target: $seconds s"
log=$findings/last-run.log
options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1)
[ -f "Fuzz/$target.dict" ] && options+=(-dict="Fuzz/$target.dict")
status=0
if [ "$target" = hdf5 ]; then
  # libhdf5 leaks on its error paths: not ours to find here.
  ASAN_OPTIONS=detect_leaks=0 "$binary" "${options[@]}" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    "$corpus" "$seeds" >"$log" 2>&1 || status=$?
else
  [ "$jobs" -gt 1 ] && options+=(-fork="$jobs")
  "$binary" "${options[@]}" "$corpus" "$seeds" >"$log" 2>&1 || status=$?
fi
grep -E '^(stat::|#[0-9]+ +DONE|INFO: fuzzed for|==[0-9]+==ERROR|SUMMARY)' "$log" | tail -12 || true
grep -E '^#[0-9]+: cov' "$log" | tail -1 || true  # -fork's progress line: executions so far
if [ "$target" = hdf5 ]; then
  # Replay each crash: the first frame outside the sanitizer runtime and libc says whose it is.
  ours=0 theirs=0
  for crash in "$findings"/crash-*; do
    [ -e "$crash" ] || continue
    frame=$(ASAN_OPTIONS=detect_leaks=0 "$binary" "$crash" 2>&1 | grep -E '^ +#[0-9]+ ' \
      | grep -vE 'compiler-rt|sanitizer_common|/asan/|libc\.so|in (free|malloc|calloc|realloc|abort|raise) ' | head -1 || true)
    if [ -z "$frame" ] || echo "$frame" | grep -qE 'libhdf5|in H5'; then theirs=$((theirs + 1)); else
      ours=$((ours + 1)); echo "crash in our code: $crash: $frame"; fi
  done
  echo "hdf5: $theirs libhdf5 crash(es) collected in $findings (contained by the child process), $ours in our code"
  status=0
  [ "$ours" = 0 ] || status=1
fi
exit $status
