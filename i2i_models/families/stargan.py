"""The StarGAN family (Choi et al., CVPR 2018): one generator ``G(x, c)`` for all attributes and a
discriminator whose classifier reads them (label-free editing).

A model trained on **several datasets** whose labels differ (``train.stargan --datasets``; the paper's
CelebA + RaFD, §3.2) records them in ``config["datasets"]`` (each ``{"name", "attributes",
"attribute_groups"}``, in label order). Its ``attributes`` are the joint label vector (every dataset's
attributes, concatenated); the generator takes that vector followed by the one-hot **mask vector** m [K]
saying which dataset's part is known (``c_dim`` = labels + K), the discriminator's classifier predicts the
joint labels (``c_dim`` = labels). :meth:`StarGANModel.condition` builds the generator's input for one
dataset's part; :meth:`StarGANModel.dataset_view` gives a one-dataset view for scoring.
"""

from __future__ import annotations

import torch
import torch.nn as nn

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
        parts = cfg.get("datasets") or []
        if parts:
            if not isinstance(parts, list) or not all(isinstance(p, dict) and isinstance(p.get("attributes"), list)
                                                      for p in parts):
                raise ConfigError("config 'datasets' must be a list of {name, attributes, attribute_groups}")
            joint = [a for p in parts for a in p["attributes"]]
            if cfg.get("attributes") and list(cfg["attributes"]) != joint:
                raise ConfigError("config 'attributes' must be the datasets' attributes, concatenated in order")
            cfg["attributes"] = joint
            cfg.setdefault("attribute_groups", [g for p in parts for g in p.get("attribute_groups") or []])
        want = {"generator": len(parts), "discriminator": 0}  # the generator also takes the mask vector
        dims = {r: n["c_dim"] for r, n in cfg["networks"].items() if n and "c_dim" in n}
        attrs = cfg.get("attributes")
        if not attrs:
            attrs = [f"attr_{i}" for i in range(next(iter(dims.values()), 0) - len(parts))]
        for role, c_dim in dims.items():
            if len(attrs) + want.get(role, 0) != c_dim:
                extra = f" + {len(parts)} mask entries" if role == "generator" and parts else ""
                raise ConfigError(f"config lists {len(attrs)} attributes{extra} but the {role} has c_dim={c_dim}")
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

    @property
    def datasets(self) -> list[dict]:
        """The datasets a multi-dataset model was trained on (``{"name", "attributes", "attribute_groups"}``
        each, in label order); ``[]`` for a one-dataset model."""
        return list(self.config.get("datasets") or [])

    def dataset_of(self, attribute: str) -> int:
        """Index of the dataset that labels ``attribute`` (0 for a one-dataset model)."""
        for k, p in enumerate(self.datasets):
            if attribute in p["attributes"]:
                return k
        if attribute not in self.attributes:
            raise ValueError(f"unknown attribute {attribute!r}; this model's attributes are {self.attributes}")
        return 0

    def span(self, k: int) -> slice:
        """The positions of dataset ``k``'s attributes in the joint label vector (a ``slice``); ``IndexError``
        for ``k`` outside ``range(len(datasets))``."""
        start = sum(len(p["attributes"]) for p in self.datasets[:k])
        return slice(start, start + len(self.datasets[k]["attributes"]))

    def condition(self, labels: torch.Tensor, dataset: int = 0) -> torch.Tensor:
        """The generator's label input for target ``labels`` [B, n_attributes] (the joint vector) of images
        to be edited in ``dataset``'s attributes: for a multi-dataset model the other datasets' parts zeroed
        (unknown) and the one-hot mask vector of ``dataset`` appended -> [B, n_attributes + K] (Choi et al.,
        §3.2, ``c̃ = [c_1, …, c_K, m]``); a one-dataset model's labels unchanged. Raises ``ValueError`` for
        a dataset index out of range."""
        parts = self.datasets
        if not parts:
            return labels
        if not 0 <= dataset < len(parts):
            raise ValueError(f"dataset {dataset} out of range: this model has {len(parts)} datasets")
        out = torch.zeros(labels.shape[0], labels.shape[1] + len(parts), dtype=labels.dtype, device=labels.device)
        sp = self.span(dataset)
        out[:, sp] = labels[:, sp]
        out[:, labels.shape[1] + dataset] = 1
        return out

    def dataset_view(self, k: int) -> "DatasetView":
        """This model seen as a one-dataset model of dataset ``k``'s attributes (for scoring and sampling):
        its generator takes that dataset's labels [B, n_k] and its classifier predicts them."""
        return DatasetView(self, k)


class _PartGenerator(nn.Module):
    """A multi-dataset generator fed one dataset's labels: ``forward(x, c_k [B, n_k])`` =
    ``G(x, condition(c_k placed in the joint vector, k))``."""

    def __init__(self, model: StarGANModel, k: int, net: nn.Module | None = None):
        super().__init__()
        self.net, self.model, self.k = net or model.generator, [model], k  # (a list: not a registered sub-module)
        self.input_nc, self.output_nc = self.net.input_nc, self.net.output_nc
        self.c_dim = len(model.datasets[k]["attributes"])

    def forward(self, x, c):
        """x [B, C, H, W] in [-1, 1], c [B, n_k] dataset k's labels -> [B, C_out, H, W] in [-1, 1]."""
        m = self.model[0]
        joint = torch.zeros(c.shape[0], len(m.attributes), dtype=c.dtype, device=c.device)
        joint[:, m.span(self.k)] = c
        return self.net(x, m.condition(joint, self.k))


class _PartDiscriminator(nn.Module):
    """A multi-dataset discriminator whose classifier logits are sliced to one dataset's attributes."""

    def __init__(self, model: StarGANModel, k: int, net: nn.Module | None = None):
        super().__init__()
        self.net, self.sp = net or model.discriminator, model.span(k)
        self.image_size, self.input_nc = self.net.image_size, self.net.input_nc

    def forward(self, x):
        """x [B, C, image_size, image_size] in [-1, 1] -> (PatchGAN logits, dataset k's attribute logits [B, n_k])."""
        src, cls = self.net(x)
        return src, cls[:, self.sp]


class DatasetView:
    """One dataset of a multi-dataset StarGAN model, with the interface of a one-dataset model that scoring
    code reads (``family``, ``config``, ``attributes``, ``attribute_groups``, ``generator``,
    ``discriminator``, ``networks()``). See :meth:`StarGANModel.dataset_view`."""

    family = "stargan"

    def __init__(self, model: StarGANModel, k: int):
        part = model.datasets[k]
        self.model, self.index = model, k
        self.attributes = list(part["attributes"])
        self.attribute_groups = [list(g) for g in part.get("attribute_groups") or []]
        self.config = {**model.config, "attributes": self.attributes, "attribute_groups": self.attribute_groups,
                       "datasets": []}
        self.generator = _PartGenerator(model, k) if model.generator is not None else None
        self.discriminator = _PartDiscriminator(model, k) if model.discriminator is not None else None

    def networks(self) -> dict:
        return {r: n for r, n in (("generator", self.generator), ("discriminator", self.discriminator)) if n is not None}


class _StarGAN(Family):
    def eval_cases(self, networks=None):
        return [EvalCase("edits", "generator", "source", "target", "edit_pairs", prefix="edit_", conditional=True)]

    def card_lines(self, config):
        parts = config.get("datasets") or []
        if parts:
            return ["Trained on several datasets with StarGAN's mask vector; attributes by dataset: " + "; ".join(
                f"**{p.get('name', k)}**: " + ", ".join(f"`{x}`" for x in p["attributes"]) for k, p in enumerate(parts))
                + ". An edit of one dataset's attributes applies to any image (the mask vector tells the generator "
                  "which dataset's labels it is given)."]
        return ["Attributes: " + ", ".join(f"`{x}`" for x in config.get("attributes", [])) + "."]


FAMILY = register(_StarGAN(
    name="stargan", bundle=StarGANModel, summary="multi-attribute editing (StarGAN)",
    loader="StarGAN Edit Attributes", paper="https://arxiv.org/abs/1711.09020",
    file_roles={"G": "generator", "D": "discriminator"}, conditional=True))
