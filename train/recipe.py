"""What the three recipes share: networks in a bundle, optimisers, mixed precision, DDP wrapping, EMA,
state for exact resume, sample grids. A recipe subclass adds its data, losses and metrics."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

import i2i_models
from i2i_models.bundles import I2IModel
from i2i_models.networks import init_weights
from i2i_models.networks.common import init_attention_bias

from .loop import EMBEDDED, autocast


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (clamped), float32 on the CPU."""
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)


def save_grid(rows: list[list[torch.Tensor]], path: Path) -> None:
    """Write rows of [C, H, W] images in [0, 1] (each row: input | output | target …) as one PNG."""
    cells = [[t.expand(3, -1, -1) if t.shape[0] == 1 else t for t in row] for row in rows]
    h, w = cells[0][0].shape[1:]
    grid = torch.ones(3, len(cells) * (h + 2), max(len(r) for r in cells) * (w + 2))
    for i, row in enumerate(cells):
        for j, t in enumerate(row):
            grid[:, i * (h + 2):i * (h + 2) + h, j * (w + 2):j * (w + 2) + w] = t
    arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


class Recipe:
    family = ""
    display = ""
    generator_roles: tuple[str, ...] = ()
    best_metric = ("l1", "min")
    metrics_note = ""  # a sentence the model card prints under the validation metrics (how to read them)
    optimizer_groups: dict[str, tuple[str, ...]] = {}  # optimiser name -> roles it updates
    embedded_dataset = ""
    embedded_license = None
    defaults: dict[str, Any] = {}
    embedded_preset: dict[str, Any] = {}
    # options whose default changed after runs were saved without them: ``--resume`` of such a run uses
    # the value it trained with, not today's default
    resume_defaults: dict[str, Any] = {}

    # -- configuration
    @classmethod
    def apply_defaults(cls, args) -> None:
        for k, v in cls.defaults.items():
            if getattr(args, k, None) is None:
                setattr(args, k, v)
        if args.dataset is None and not getattr(args, "resume", None):
            args.dataset = str(EMBEDDED / cls.embedded_dataset)
            explicit = set(getattr(args, "_explicit", []))
            for k, v in cls.embedded_preset.items():
                if k not in explicit:
                    setattr(args, k, v)
            if args.license is None:
                args.license = cls.embedded_license
        if args.load_size is None:
            args.load_size = int(round(args.crop_size * 1.12))
        if args.name is None:
            args.name = f"{cls.family}-{Path(str(args.dataset).rstrip('/')).name.replace('/', '-')}"

    def __init__(self, args, device: torch.device, dist):
        self.args, self.device, self.dist = args, device, dist
        torch.manual_seed(args.seed)  # identical initial weights on every rank
        self.model: I2IModel = self.build_model()
        for net in self.model.networks().values():
            init_weights(net, args.init_type, args.init_gain)
            if getattr(net, "attention_mask", False):
                init_attention_bias(net, args.attention_init)
        self.model.to(device).train()
        if args.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.nets: dict[str, nn.Module] = dict(self.model.networks())
        self.train_nets = {r: self._wrap(n) for r, n in self.nets.items()}
        self.opt = {name: torch.optim.Adam([p for r in roles for p in self.nets[r].parameters()],
                                           lr=args.lr, betas=(args.beta1, args.beta2))
                    for name, roles in self.optimizer_groups.items()}
        self.scalers = {name: torch.amp.GradScaler(device.type) for name in self.opt} if args.precision == "fp16" else {}
        self.ema = ({r: copy.deepcopy(self.nets[r]).eval().requires_grad_(False) for r in self.generator_roles}
                    if args.ema else {})

    def build_model(self) -> I2IModel:
        raise NotImplementedError

    def _wrap(self, net: nn.Module) -> nn.Module:
        if self.args.compile:
            net = torch.compile(net)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            has_bn = any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
            if has_bn and self.device.type == "cuda" and getattr(self.args, "sync_bn", False):
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            kw = {} if getattr(self.args, "broadcast_buffers", 1) else {"broadcast_buffers": False}
            net = DDP(net, device_ids=[self.device.index] if self.device.type == "cuda" else None, **kw)
        return net

    def amp(self):
        return autocast(self.device, self.args.precision)

    def set_lr(self, lr: float) -> None:
        for opt in self.opt.values():
            for g in opt.param_groups:
                g["lr"] = lr * getattr(self, "lr_scale", {}).get(id(opt), 1.0)

    def step_opt(self, name: str, loss: torch.Tensor) -> None:
        """zero_grad, backward (scaled for fp16), optimiser step."""
        opt = self.opt[name]
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(name)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    def update_ema(self) -> None:
        """EMA of generator weights with the usual warm-up ``min(decay, (1 + n) / (10 + n))`` (n = updates so
        far), so early validation is not dominated by the random initialisation."""
        self.ema_updates = getattr(self, "ema_updates", 0) + 1
        n = self.ema_updates
        decay = min(self.args.ema, (1 + n) / (10 + n))
        with torch.no_grad():
            for role, ema in self.ema.items():
                src = self.nets[role]
                for pe, p in zip(ema.parameters(), src.parameters()):
                    pe.lerp_(p.detach(), 1 - decay)
                for be, b in zip(ema.buffers(), src.buffers()):
                    be.copy_(b)

    def generator(self, role: str) -> nn.Module:
        """The generator to evaluate with: the EMA copy if enabled."""
        return self.ema[role] if role in self.ema else self.nets[role]

    # -- export and state
    def export_bundle(self) -> I2IModel:
        """A CPU copy of the bundle in eval mode, with the averaged generator weights when EMA is on.
        Building it must not consume the global RNG (that would make checkpointed runs differ)."""
        with torch.random.fork_rng(devices=[]):
            bundle = i2i_models.family_class(self.model.family)(self.model.config)
        sd = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        for role, ema in self.ema.items():
            sd.update({f"{role}.{k}": v.detach().cpu() for k, v in ema.state_dict().items()})
        bundle.load_state_dict(sd)
        return bundle.eval()

    def extra_state(self) -> dict[str, Any]:
        return {}

    def _ema_count(self) -> int:
        return getattr(self, "ema_updates", 0)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "opt": {k: o.state_dict() for k, o in self.opt.items()},
                "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
                "ema": {r: {k: v.cpu() for k, v in e.state_dict().items()} for r, e in self.ema.items()},
                "ema_updates": self._ema_count(), "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for k, o in self.opt.items():
            o.load_state_dict(state["opt"][k])
        for k, s in self.scalers.items():
            if k in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][k])
        for r, e in self.ema.items():
            if r in state.get("ema", {}):
                e.load_state_dict(state["ema"][r])
        self.ema_updates = state.get("ema_updates", 0)
        self.load_extra_state(state.get("extra", {}))

    # -- data helpers
    def train_transform(self):
        from .data import Transform

        a = self.args
        return Transform(a.preprocess, a.load_size, a.crop_size, not a.no_flip)

    def hub_pairs(self, split: str, transform):
        """A Hub dataset of image pairs (columns ``--column_A``/``--column_B``)."""
        from .data import HubDataset

        a = self.args
        return HubDataset(a.dataset, split, transform, {"A": a.column_A, "B": a.column_B}, a.dataset_config,
                          a.dataset_revision, a.input_nc, a.output_nc)

    # -- evaluation helpers
    @torch.no_grad()
    def run_eval(self, net: nn.Module, x: torch.Tensor, *args) -> torch.Tensor:
        was = net.training
        net.eval()
        try:
            with self.amp():
                out = net(x.to(self.device), *args)
            return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()
        finally:
            net.train(was)

    def val_loader(self, ds) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0)
