"""i2i_models: pix2pix, CycleGAN and StarGAN translators for Python and ComfyUI (no ComfyUI needed).

    >>> import i2i_models
    >>> model = i2i_models.load("path/or/org-name")   # our folders, Hub repos, junyanz/StarGAN/HugGAN files
    >>> model.family, model.config["networks"]

Every network takes [B, C, H, W] float tensors in [-1, 1] and generators return [-1, 1] (tanh).
"""

from .bundles import CycleGANModel, I2IModel, Pix2PixModel, StarGANModel, family_class
from .errors import (ConfigError, CorruptCheckpointError, DownloadError, FamilyMismatchError, I2IError, ModelNotFoundError,
                     UnknownCheckpointError, UnsafeCheckpointError)
from .editing import edit, predict_attributes
from .inference import translate
from .loading import load, peek, resolve
from .networks import build_network, define_D, define_G, init_weights

__version__ = "0.1.0"

__all__ = [
    "load", "peek", "resolve", "translate", "edit", "predict_attributes", "I2IModel", "Pix2PixModel", "CycleGANModel", "StarGANModel", "family_class",
    "build_network", "define_G", "define_D", "init_weights",
    "I2IError", "ConfigError", "CorruptCheckpointError", "DownloadError", "FamilyMismatchError", "ModelNotFoundError",
    "UnknownCheckpointError", "UnsafeCheckpointError",
]
