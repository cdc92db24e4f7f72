"""The pix2pix family (Isola et al., CVPR 2017): paired translation A → B with one generator and a conditional
PatchGAN on ``cat(A, B)``."""

from __future__ import annotations

from ..bundles import I2IModel
from . import EvalCase, Family, register


class Pix2PixModel(I2IModel):
    """pix2pix (Isola et al., 2017): ``generator`` maps A→B; ``discriminator`` (optional) is the
    conditional PatchGAN on ``cat(A, B)``."""

    family = "pix2pix"
    roles = ("generator", "discriminator")
    paper_url = "https://arxiv.org/abs/1611.07004"

    def _complete_config(self, cfg):
        cfg.setdefault("direction", "AtoB")


class _Pix2Pix(Family):
    def eval_cases(self, networks=None):
        return [EvalCase("AtoB", "generator", "A", "B", "paired")]


FAMILY = register(_Pix2Pix(
    name="pix2pix", bundle=Pix2PixModel, summary="paired image-to-image translation (pix2pix)",
    loader="Load pix2pix Model", paper="https://arxiv.org/abs/1611.07004",
    file_roles={"G": "generator", "D": "discriminator"}))
