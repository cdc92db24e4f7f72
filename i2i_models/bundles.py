"""Model bundles: the networks of one trained translator plus everything needed to use them.

A bundle is an ``nn.Module`` whose children are its networks (so its ``state_dict`` keys are
``<role>.<network key>``) and whose ``config`` dict describes them completely. On disk a bundle is a
folder written by huggingface_hub's ``PyTorchModelHubMixin``:

* ``config.json``: ``format``/``format_version``, ``family``, ``networks`` (one ``{"arch", …}`` config per
  role), ``value_range`` ([-1, 1]), CycleGAN ``domains``, StarGAN ``attributes`` and
  ``attribute_groups`` (one-hot groups), ``image_size``, ``source`` (provenance of converted files) and
  ``training`` (free-form provenance written by the trainers);
* ``model.safetensors``: all weights;
* ``README.md``: a model card.

Families and roles: pix2pix ``generator`` (+ ``discriminator``); CycleGAN ``G_A`` (A→B), ``G_B`` (B→A)
(+ ``D_A``, ``D_B``); StarGAN ``generator`` (called ``G(x, c)``) and ``discriminator`` (its attribute
classifier enables label-free editing). Every generator takes [B, C, H, W] in [-1, 1].
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin

from .errors import ConfigError, FamilyMismatchError
from .networks import Network, build_network

FORMAT = "comfyui-i2i-gans"
FORMAT_VERSION = 1
REPO_URL = "https://github.com/comfyui-i2i-gans/comfyui-i2i-gans"


class I2IModel(nn.Module, PyTorchModelHubMixin, library_name="comfyui-i2i-gans", pipeline_tag="image-to-image",
               tags=["gan", "image-to-image-translation"], repo_url=REPO_URL):
    """Base class of the three bundles. Build one from a config dict, or load one with
    :func:`i2i_models.load` (any source) or ``from_pretrained`` (our folders and Hub repos only).

    Attributes:
        family: ``"pix2pix"``, ``"cyclegan"`` or ``"stargan"``.
        roles: the network slots of the family; an absent network is ``None``.
        config: the complete, JSON-able description (see the module docstring).
    """

    family: ClassVar[str] = ""
    roles: ClassVar[tuple[str, ...]] = ()
    paper_url: ClassVar[str] = ""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        cfg = copy.deepcopy(dict(config))
        family = cfg.get("family", self.family)
        if family != self.family:
            raise FamilyMismatchError(f"config is a {family!r} model, not {self.family!r}")
        networks = cfg.get("networks")
        if not isinstance(networks, dict) or not networks:
            raise ConfigError(f"config has no 'networks' (expected one of the roles {self.roles})")
        unknown = set(networks) - set(self.roles)
        if unknown:
            raise ConfigError(f"{self.family} config has unknown roles {sorted(unknown)}; roles are {self.roles}")
        for role in self.roles:
            net_cfg = networks.get(role)
            if net_cfg is not None and not isinstance(net_cfg, dict):
                raise ConfigError(f"networks.{role} must be an object like {{\"arch\": …}}, got {type(net_cfg).__name__}")
            try:
                net = build_network(net_cfg) if net_cfg else None
            except (ValueError, TypeError, OverflowError, RecursionError) as e:
                raise ConfigError(f"networks.{role}: {e}") from None
            if net is not None and net.role != _expected_role(role):
                raise ConfigError(f"{role} must be a {_expected_role(role)}, got arch {net_cfg['arch']!r}")
            setattr(self, role, net)
            if net is not None:
                networks[role] = net.config
        cfg = {"format": FORMAT, "format_version": FORMAT_VERSION, "family": self.family, "networks": networks,
               "value_range": cfg.get("value_range", [-1, 1]),
               **{k: v for k, v in cfg.items() if k not in ("format", "format_version", "family", "networks", "value_range")}}
        self._complete_config(cfg)
        self.config = cfg
        self.eval()

    # -- family hooks -------------------------------------------------------------------------------
    def _complete_config(self, cfg: dict[str, Any]) -> None:
        """Fill family-specific defaults into ``cfg`` (in place)."""

    def with_config(self, **changes: Any) -> "I2IModel":
        """A copy whose config has ``changes`` (e.g. ``domains={"A": "horse", "B": "zebra"}``,
        ``attributes=[…]``, ``training={…}``), validated as any config is, sharing this bundle's weights
        (no copy of the tensors). The bundle itself never changes: its config was validated once.
        Raises ``ConfigError``/``FamilyMismatchError`` for a config the family does not accept."""
        cfg = copy.deepcopy(self.config)
        cfg.update(copy.deepcopy(changes))
        new = type(self)(cfg)
        new.load_state_dict(self.state_dict(), assign=True)
        new.train(self.training)
        if hasattr(self, "stored_dtype"):
            new.stored_dtype = self.stored_dtype
        return new

    # -- conveniences ------------------------------------------------------------------------------
    def networks(self) -> dict[str, Network]:
        """The present networks by role."""
        return {r: self._modules[r] for r in self.roles if self._modules.get(r) is not None}

    def generators(self) -> dict[str, Network]:
        """The present generators by role."""
        return {r: n for r, n in self.networks().items() if n.role == "generator"}

    def __repr__(self) -> str:
        nets = ", ".join(f"{r}={n.config['arch']}" for r, n in self.networks().items())
        return f"{type(self).__name__}({nets})"

    def describe(self) -> dict[str, Any]:
        """``config`` plus parameter counts per network: what ``python -m i2i_models inspect`` prints."""
        out = copy.deepcopy(self.config)
        for role, net in self.networks().items():
            out["networks"][role]["parameters"] = sum(p.numel() for p in net.parameters())
        return out

    # -- saving ------------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, *, card_text: str | None = None) -> Path:
        """Write the model folder atomically and return its path.

        The folder is written beside ``directory`` under a temporary name and renamed into place, so
        a crash or Ctrl-C leaves either the old folder or the new one, never a half-written one.
        ``card_text`` replaces the body of the generated model card.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
        try:
            self.save_pretrained(tmp, model_card_kwargs={"card_text": card_text} if card_text else None)
            _default_permissions(tmp)  # mkdtemp makes the folder private; a model folder is shared like any
            old = None
            if directory.exists():
                old = directory.parent / f".{directory.name}.old-{os.getpid()}"
                os.replace(directory, old)
            os.replace(tmp, directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    def _save_pretrained(self, save_directory: Path) -> None:
        """The mixin's hook: weights and our ``config.json`` (the mixin then writes no config of its own)."""
        import json

        from safetensors.torch import save_file

        sd = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(sd, str(Path(save_directory) / "model.safetensors"), metadata={"format": "pt"})
        (Path(save_directory) / "config.json").write_text(json.dumps(self.config, sort_keys=True, indent=2))

    def generate_model_card(self, *args, card_text: str | None = None, **kwargs) -> ModelCard:
        """A model card with Hub metadata (image-to-image, family tags) and a usage section."""
        data = ModelCardData(library_name="comfyui-i2i-gans", pipeline_tag="image-to-image",
                             tags=sorted({"gan", "image-to-image-translation", self.family, "pytorch_model_hub_mixin",
                                          "model_hub_mixin"}),
                             license=self.config.get("license"))
        nets = "\n".join(f"| `{r}` | `{n.config['arch']}` | "
                         + ", ".join(f"{k}={v}" for k, v in n.config.items() if k != "arch")
                         + f" | {sum(p.numel() for p in n.parameters()):,} |" for r, n in self.networks().items())
        body = card_text or self._default_card_body()
        content = (f"---\n{data.to_yaml()}\n---\n\n{body}\n\n## Networks\n\n| role | arch | hyper-parameters | "
                   f"parameters |\n|---|---|---|---|\n{nets}\n\n## Use\n\n```python\nimport i2i_models\n"
                   f"model = i2i_models.load(\"<this repo id or folder>\")\n```\n\nIn ComfyUI, pick this repo in the "
                   f"comfyui-i2i-gans loader node. Made with [comfyui-i2i-gans]({REPO_URL}).\n")
        return ModelCard(content)

    def _default_card_body(self) -> str:
        return f"# {self.family} translator\n\nA {self.family} image-to-image GAN ([paper]({self.paper_url}))."

    # -- loading ------------------------------------------------------------------------------------
    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, cache_dir, force_download: bool,
                         local_files_only: bool, token, config: dict | None = None, map_location: str = "cpu",
                         strict: bool = True, **model_kwargs):
        """Called by ``from_pretrained``: build the bundle that ``config.json`` names and strict-load its weights."""
        from huggingface_hub import hf_hub_download

        if not config or config.get("format") != FORMAT:
            raise ConfigError(f"{model_id} has no comfyui-i2i-gans config.json; use i2i_models.load() for "
                              f"checkpoints of other codebases")
        target = family_class(config.get("family"))
        if not issubclass(target, cls):
            raise FamilyMismatchError(f"{model_id} holds a {target.family} model, not a {cls.family} model")
        model = target(config)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, "model.safetensors")
        else:
            weights = hf_hub_download(model_id, "model.safetensors", revision=revision, cache_dir=cache_dir,
                                      force_download=force_download, token=token, local_files_only=local_files_only)
        model.load_weights_file(weights, strict=strict)
        return model.to(map_location)

    def load_weights_file(self, path: str | os.PathLike, strict: bool = True) -> None:
        """Load ``model.safetensors`` into this bundle; raise ``ConfigError`` if it does not fit the config."""
        from .state_dicts import read_weights

        sd = read_weights(path)
        self.load_state_dict_checked(sd, str(path), strict=strict)

    def load_state_dict_checked(self, sd: dict[str, torch.Tensor], where: str, strict: bool = True) -> None:
        """``load_state_dict`` that explains a mismatch (missing/unexpected keys, shapes) in one message."""
        own = self.state_dict()
        missing = [k for k in own if k not in sd]
        unexpected = [k for k in sd if k not in own]
        shapes = [f"{k}: file {tuple(sd[k].shape)} vs config {tuple(v.shape)}" for k, v in own.items()
                  if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
        if shapes or (strict and (missing or unexpected)):
            raise ConfigError(
                f"weights in {where} do not match the architecture in its config: "
                + "; ".join(filter(None, [f"missing {missing[:5]}" if missing else "",
                                          f"unexpected {unexpected[:5]}" if unexpected else "",
                                          f"shape mismatch {shapes[:3]}" if shapes else ""]))
                + ". The folder may mix files from two runs; re-export it.")
        self.load_state_dict(sd, strict=strict)
        floats = [v.dtype for v in sd.values() if torch.is_floating_point(v)]
        self.stored_dtype = max(set(floats), key=floats.count) if floats else None
        self.eval()


def _expected_role(role: str) -> str:
    return "discriminator" if role in ("discriminator", "D_A", "D_B") else "generator"


def family_class(family: str | None) -> type[I2IModel]:
    """The bundle class of a family name (from the family registry, :mod:`i2i_models.families`); raises
    ``ConfigError`` naming the known families."""
    from .families import FAMILIES

    fam = FAMILIES.get(family or "")
    if fam is None:
        raise ConfigError(f"unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    return fam.bundle


def _default_permissions(folder: Path) -> None:
    """Give ``folder`` and its files the permissions a plain mkdir/open would (0777/0666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)
    for p in folder.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


# The family bundles live with the rest of their family's knowledge (i2i_models/families/); re-exported here.
from .families.cyclegan import CycleGANModel  # noqa: E402
from .families.pix2pix import Pix2PixModel  # noqa: E402
from .families.stargan import StarGANModel  # noqa: E402
