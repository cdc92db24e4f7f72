"""The training infrastructure a recipe works with, owned by the trainer: the bundle on its device with
initialised weights, the networks as trained (``torch.compile``, ``DistributedDataParallel``,
``SyncBatchNorm``), autocast with one ``GradScaler`` per optimiser for fp16, the Adam optimisers of the
recipe's groups and their learning rate, and the EMA of the generators
(``torch.optim.swa_utils.AveragedModel``). A recipe only says what its losses are.

State for exact resume (:meth:`Engine.state_dict`) keeps the layout checkpoints have always had (``model``,
``opt``, ``scalers``, ``ema``, ``ema_updates``), so runs saved before this module resume unchanged.
"""

from __future__ import annotations

from contextlib import nullcontext
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel

import i2i_models
from i2i_models.bundles import I2IModel
from i2i_models.networks import init_weights
from i2i_models.networks.common import init_attention_bias


def autocast(device: torch.device, precision: str):
    """Autocast for ``precision`` (``fp32``: none; ``bf16``/``fp16`` on the device's type)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def ema_average(decay: float):
    """The EMA update of ``AveragedModel`` with the usual warm-up: after ``n`` updates the weight of the
    new value is ``1 - min(decay, (1 + n) / (10 + n))``, so early validation is not dominated by the
    random initialisation (``torch.lerp``, as the trainer always computed it)."""
    def avg_fn(averaged: torch.Tensor, current: torch.Tensor, num_averaged) -> torch.Tensor:
        n = int(num_averaged)
        return torch.lerp(averaged, current.detach(), 1 - min(decay, (1 + n) / (10 + n)))
    return avg_fn


class Engine:
    """See the module docstring. ``optimizer_groups`` maps an optimiser name to the roles it updates;
    ``generator_roles`` are averaged when ``args.ema`` is set. Builds and initialises nothing it does not
    own: the model comes from the recipe, already built."""

    def __init__(self, model: I2IModel, args, device: torch.device, dist, optimizer_groups: dict[str, tuple[str, ...]],
                 generator_roles: tuple[str, ...]):
        self.args, self.device, self.dist = args, device, dist
        for net in model.networks().values():
            init_weights(net, args.init_type, args.init_gain)
            if getattr(net, "attention_mask", False):
                init_attention_bias(net, args.attention_init)
        model.to(device).train()
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.nets: dict[str, nn.Module] = dict(model.networks())
        self.train_nets = {r: self._wrap(n) for r, n in self.nets.items()}
        self.opt = {name: torch.optim.Adam([p for r in roles if r in self.nets for p in self.nets[r].parameters()],
                                           lr=args.lr, betas=(args.beta1, args.beta2))
                    for name, roles in optimizer_groups.items()}
        self.scalers = {name: torch.amp.GradScaler(device.type) for name in self.opt} if args.precision == "fp16" else {}
        self.ema: dict[str, AveragedModel] = {}
        if args.ema:
            for r in (r for r in generator_roles if r in self.nets):  # the roles this model has
                avg = AveragedModel(self.nets[r], avg_fn=ema_average(args.ema), use_buffers=False)
                avg.n_averaged.fill_(1)  # the warm-up counts updates from 1 (see ema_average)
                self.ema[r] = avg.eval().requires_grad_(False)

    def _wrap(self, net: nn.Module) -> nn.Module:
        if self.args.compile:
            net = torch.compile(net)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            has_bn = any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
            if has_bn and self.device.type == "cuda" and self.args.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            kw = {} if self.args.broadcast_buffers else {"broadcast_buffers": False}
            net = DDP(net, device_ids=[self.device.index] if self.device.type == "cuda" else None, **kw)
        return net

    # -- a training step
    def amp(self):
        """Autocast in the run's precision."""
        return autocast(self.device, self.args.precision)

    def set_lr(self, lr: float) -> None:
        for opt in self.opt.values():
            for g in opt.param_groups:
                g["lr"] = lr

    def step(self, name: str, loss: torch.Tensor, frozen: Iterable[nn.Parameter] = ()) -> None:
        """zero_grad, backward (scaled for fp16), optimiser ``name``'s step. Parameters in ``frozen`` get no
        update: their gradients are dropped before the step (Adam skips parameters without one, their state
        untouched), which works the same under DDP, where ``requires_grad`` cannot change after wrapping."""
        opt = self.opt[name]
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(name)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        for p in frozen:
            p.grad = None
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()

    def load_pretrained(self, role: str, state: dict[str, torch.Tensor]) -> tuple[int, int]:
        """Start network ``role`` from ``state``: every tensor whose name and shape match is copied (NVIDIA
        ``BaseModel.load_network``'s partial loading, e.g. a global generator's weights into a local
        enhancer's global trunk), the EMA copy too. Returns (tensors copied, tensors of the network)."""
        own = self.nets[role].state_dict()
        match = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        with torch.no_grad():
            for k, v in match.items():
                own[k].copy_(v.to(own[k].dtype))
            if role in self.ema:
                self.ema[role].module.load_state_dict(self.nets[role].state_dict())
        return len(match), len(own)

    def update_ema(self) -> None:
        """One EMA update of every averaged generator (``AveragedModel`` keeps their buffers, e.g. BatchNorm
        statistics, equal to the trained network's)."""
        for role, avg in self.ema.items():
            avg.update_parameters(self.nets[role])

    def generator(self, role: str) -> nn.Module:
        """The generator to evaluate with: the EMA copy when averaging is on."""
        return self.ema[role].module if role in self.ema else self.nets[role]

    @torch.no_grad()
    def run_eval(self, net: nn.Module, x: torch.Tensor, *args) -> torch.Tensor:
        """``net(x, *args)`` in eval mode and the run's precision, as float32 (tuples element-wise)."""
        was = net.training
        net.eval()
        try:
            with self.amp():
                out = net(x.to(self.device), *(a.to(self.device) if torch.is_tensor(a) else a for a in args))
            return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()
        finally:
            net.train(was)

    # -- export and state
    def export_bundle(self) -> I2IModel:
        """A CPU copy of the bundle in eval mode, with the averaged generator weights when EMA is on.
        Building it must not consume the global RNG (that would make checkpointed runs differ)."""
        with torch.random.fork_rng(devices=[]):
            bundle = i2i_models.family_class(self.model.family)(self.model.config)
        sd = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        for role, avg in self.ema.items():
            sd.update({f"{role}.{k}": v.detach().cpu() for k, v in avg.module.state_dict().items()})
        bundle.load_state_dict(sd)
        return bundle.eval()

    def state_dict(self) -> dict[str, Any]:
        return {"model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "opt": {k: o.state_dict() for k, o in self.opt.items()},
                "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
                "ema": {r: {k: v.cpu() for k, v in a.module.state_dict().items()} for r, a in self.ema.items()},
                "ema_updates": int(next(iter(self.ema.values())).n_averaged) - 1 if self.ema else 0}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for k, o in self.opt.items():
            o.load_state_dict(state["opt"][k])
        for k, s in self.scalers.items():
            if k in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][k])
        for r, avg in self.ema.items():
            if r in state.get("ema", {}):
                avg.module.load_state_dict(state["ema"][r])
            avg.n_averaged.fill_(int(state.get("ema_updates", 0)) + 1)
