#!/usr/bin/env bash
# NIQE's pristine-model parameters (sr_models/niqe.py): BasicSR 1.4.2's sdist from PyPI, sha256-checked,
# its niqe_pris_params.npz extracted into checkpoints/niqe/ (the sdist is kept there for tests/test_niqe.py).
# Run after `pip install -r requirements.txt` (pip prepares the sdist's metadata with the installed torch).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m sr_models fetch-niqe
