"""The CycleGAN family (Zhu et al., ICCV 2017): unpaired translation between domains A and B with two
generators (``G_A``: A → B, ``G_B``: B → A) and two PatchGANs — or, trained with ``train.cyclegan
--conditional``, **one** generator and one discriminator for both directions with the domain as a condition.

The conditional model (roles ``generator`` and ``discriminator``): ``G(x, c)`` with a one-channel domain
code ``c`` — ``+1`` asks for domain B, ``−1`` for domain A (the coding of the design notes), ``0`` for no
change — trained with CycleGAN's cycle losses in both directions (x → y → x and y → x → y) plus a
self-supervised term: asked for the domain an image is already in, it returns the image. At test time the
code's magnitude is the **strength** of the translation (0 = unchanged, 1 = the trained translation,
beyond 1 exaggerates) and its sign the direction, and the input's domain need not be known (label-free).
:meth:`_CycleGAN.condition` turns ``direction`` and ``strength`` into that code.

How the strength acts depends on ``--strength_control`` (recorded in the run's config):

* ``residual`` (the default): the generator is built with ``residual_strength`` — the network sees only
  the code's sign and the result is ``z + |c|·(G(z, sign c) − z)``, with ``z`` the input zoomed by
  ``reframe_input ** c`` (the domains' framing change, learnt by ``--reframe_A``). Strength 0 is the input
  exactly and the change grows linearly with the strength, by construction. Caveat: with a zoom
  (``reframe_input`` ≠ 1) an image asked for the domain it is already in still gets the framing change;
  train with ``--reframe_A 1`` for fully label-free use.
* ``code`` (the first release): the network reads ``c`` as an input channel and a strength term trains
  partial codes towards the blend; in practice the model behaves close to a switch around ``|c| ≈ 0.5``.
"""

from __future__ import annotations

from ..bundles import I2IModel
from ..errors import ConfigError
from ..networks import Network
from . import EvalCase, Family, register


class CycleGANModel(I2IModel):
    """CycleGAN (Zhu et al., 2017): ``G_A`` maps domain A→B, ``G_B`` maps B→A; either may be absent
    (a single reference generator file is a one-direction bundle). ``D_A`` judges G_A's outputs
    (domain B) and ``D_B`` G_B's (domain A), as in junyanz. ``config["domains"]`` names A and B.

    A conditional model (``train.cyclegan --conditional``) holds ``generator`` ``G(x, c)`` [B, C, H, W] with
    c [B, 1] the domain code (see the module docstring) and ``discriminator`` (a PatchGAN on the image with
    the code as a fourth channel) instead. Raises ``ConfigError`` for a config mixing the two kinds or a
    conditional generator whose ``c_dim`` is not 1."""

    family = "cyclegan"
    roles = ("G_A", "G_B", "D_A", "D_B", "generator", "discriminator")
    paper_url = "https://arxiv.org/abs/1703.10593"

    def _complete_config(self, cfg):
        domains = dict(cfg.get("domains") or {})
        domains.setdefault("A", "A")
        domains.setdefault("B", "B")
        cfg["domains"] = domains
        nets = cfg["networks"]
        if nets.get("generator") or nets.get("discriminator"):
            pair = [r for r in ("G_A", "G_B", "D_A", "D_B") if nets.get(r)]
            if pair:
                raise ConfigError(f"a CycleGAN config holds either a conditional generator/discriminator or G_A/G_B/"
                                  f"D_A/D_B, not both (it has generator/discriminator and {pair})")
            g = nets.get("generator")
            if g and int(g.get("c_dim", 0) or 0) != 1:
                raise ConfigError(f"a conditional CycleGAN generator takes one domain-code channel (c_dim 1), "
                                  f"got c_dim={g.get('c_dim', 0)}")

    @property
    def domains(self) -> dict[str, str]:
        return self.config["domains"]

    @property
    def conditional(self) -> bool:
        """One generator for both directions, conditioned on the domain code (``--conditional``)."""
        return self.generator is not None

    @property
    def directions(self) -> list[str]:
        """Available directions: ``"AtoB"`` if ``G_A`` is present, ``"BtoA"`` if ``G_B`` is; both for a
        conditional model."""
        return FAMILY.available_directions(self.networks())

    def generator_for(self, direction: str = "AtoB") -> Network:
        """``G_A`` for ``"AtoB"``, ``G_B`` for ``"BtoA"`` (the conditional ``generator`` for both);
        ``ValueError`` if that direction is absent."""
        return FAMILY.generator(self, direction)


    @property
    def discriminator(self):
        """The conditional model's discriminator, else ``D_A`` if present, else ``D_B`` (a bundle made from one
        discriminator file)."""
        for role in ("discriminator", "D_A", "D_B"):
            d = self._modules.get(role)
            if d is not None:
                return d
        return None

    @discriminator.setter
    def discriminator(self, value):
        self._modules["discriminator"] = value  # (the role's slot; a network is registered by nn.Module itself)


class _CycleGAN(Family):
    def available_directions(self, networks: dict) -> list[str]:
        if networks.get("generator"):
            return ["AtoB", "BtoA"]
        return super().available_directions(networks)

    def generator(self, model, direction: str | None = None):
        if getattr(model, "generator", None) is not None:
            if direction not in (None, "AtoB", "BtoA"):
                raise ValueError(f"direction must be one of {list(self.directions)}, got {direction!r}")
            return model.generator
        return super().generator(model, direction)

    def eval_cases(self, networks=None):
        if networks is not None and networks.get("generator"):
            return [EvalCase("AtoB", "generator", "A", "B", "named_pairs", "AtoB", "AtoB_", "identity_AtoB_", code=(1.0,)),
                    EvalCase("BtoA", "generator", "B", "A", "named_pairs", "BtoA", "BtoA_", "identity_BtoA_", code=(-1.0,))]
        cases = [EvalCase("AtoB", "G_A", "A", "B", "named_pairs", "AtoB", "AtoB_", "identity_AtoB_"),
                 EvalCase("BtoA", "G_B", "B", "A", "named_pairs", "BtoA", "BtoA_", "identity_BtoA_")]
        have = None if networks is None else self.available_directions(networks)
        return [c for c in cases if have is None or c.direction in have]

    def card_lines(self, config):
        lines = super().card_lines(config)
        g = (config.get("networks") or {}).get("generator")
        if g:
            how = ("the change grows linearly with it" if g.get("residual_strength")
                   else "the network reads it as an input code")
            lines.append("One generator for both directions, trained with `python -m train.cyclegan --conditional`: "
                         "the translation's **strength** is a control (`translate(model, x, strength=0.5)`, the "
                         "CycleGAN Translate node's `strength`; 0 = unchanged, 1 = the translation, >1 exaggerated, "
                         f"negative = the other direction; {how}).")
        return lines

    def condition(self, model, direction: str | None, strength: float | None):
        """``(direction, labels)`` for :func:`~i2i_models.translate` from a ``direction`` and a ``strength``
        (``None`` = 1). A conditional model gets the domain code ``+strength`` towards B (``"AtoB"``) or
        ``−strength`` towards A (``"BtoA"``) as labels [1]; a negative strength translates the other way.
        A two-generator model translates at strength 1 (or −1: the other generator) only; strength 0 is
        handled by ``translate`` (the input, unchanged). Raises ``ValueError`` for other strengths of a
        two-generator model, naming ``--conditional``."""
        s = 1.0 if strength is None else float(strength)
        if s != s or s in (float("inf"), float("-inf")):
            raise ValueError(f"strength must be a finite number, got {strength!r}")
        have = self.available_directions(model.networks())
        direction = direction or (have[0] if have else "AtoB")
        if getattr(model, "conditional", False):
            code = s if direction == "AtoB" else -s
            return direction, [code]
        if s in (0, 1):  # (0: translate returns the input)
            return direction, None
        if s == -1:
            return ("BtoA" if direction == "AtoB" else "AtoB"), None
        raise ValueError(f"strength {s:g}: this CycleGAN model has one generator per direction, which translates "
                         f"fully (strength 1; -1 = the other direction; 0 = unchanged); strengths in between or "
                         f"beyond need a model trained with `python -m train.cyclegan --conditional`")


FAMILY = register(_CycleGAN(
    name="cyclegan", bundle=CycleGANModel, summary="unpaired image-to-image translation (CycleGAN)",
    loader="Load CycleGAN Model", paper="https://arxiv.org/abs/1703.10593",
    file_roles={"G_A": "G_A", "G_B": "G_B", "D_A": "D_A", "D_B": "D_B", "D": "D_A"},
    directions={"AtoB": "G_A", "BtoA": "G_B"}))
