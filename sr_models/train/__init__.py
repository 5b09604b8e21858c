"""Training SR Arena's own ("house") weights: ``python -m sr_models train CONFIG``.

Modules: :mod:`.config` (TOML run configs), :mod:`.data` (training pairs made with the
project's MATLAB-exact bicubic, never from benchmark folders), :mod:`.nets` (generator and
SRGAN discriminator construction), :mod:`.loop` (the resumable training loop),
:mod:`.validate` (Set5 PSNR during training, gradient-magnitude sharpness), :mod:`.export`
(house safetensors + model card).
"""
