"""The StarGAN family (Choi et al., CVPR 2018): one generator ``G(x, c)`` for all attributes and a
discriminator whose classifier reads them (label-free editing)."""

from __future__ import annotations

from ..bundles import I2IModel
from ..errors import ConfigError
from . import EvalCase, Family, register


class StarGANModel(I2IModel):
    """StarGAN (Choi et al., 2018): one ``generator`` ``G(x, c)`` for all attributes and a
    ``discriminator`` whose classifier head predicts the attributes (``config["attributes"]``,
    one-hot ``config["attribute_groups"]``)."""

    family = "stargan"
    roles = ("generator", "discriminator")
    paper_url = "https://arxiv.org/abs/1711.09020"

    def _complete_config(self, cfg):
        c_dim = next((n["c_dim"] for n in cfg["networks"].values() if n and "c_dim" in n), 0)
        attrs = cfg.get("attributes")
        if not attrs:
            attrs = [f"attr_{i}" for i in range(c_dim)]
        if len(attrs) != c_dim:
            raise ConfigError(f"config lists {len(attrs)} attributes but the networks have c_dim={c_dim}")
        groups = [list(g) for g in cfg.get("attribute_groups") or []]
        for g in groups:
            bad = [a for a in g if a not in attrs]
            if bad:
                raise ConfigError(f"attribute_groups names unknown attributes {bad}; attributes are {attrs}")
        cfg["attributes"], cfg["attribute_groups"] = list(attrs), groups
        d = cfg["networks"].get("discriminator")
        if d and not cfg.get("image_size"):
            cfg["image_size"] = d["image_size"]

    @property
    def attributes(self) -> list[str]:
        return self.config["attributes"]

    @property
    def attribute_groups(self) -> list[list[str]]:
        return self.config["attribute_groups"]


class _StarGAN(Family):
    def eval_cases(self, directions=None):
        return [EvalCase("edits", "generator", "source", "target", "edit_pairs", prefix="edit_", conditional=True)]

    def card_lines(self, config):
        return ["Attributes: " + ", ".join(f"`{x}`" for x in config.get("attributes", [])) + "."]


FAMILY = register(_StarGAN(
    name="stargan", bundle=StarGANModel, summary="multi-attribute editing (StarGAN)",
    loader="StarGAN Edit Attributes", paper="https://arxiv.org/abs/1711.09020",
    file_roles={"G": "generator", "D": "discriminator"}, conditional=True))
