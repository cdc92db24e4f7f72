"""The CycleGAN family (Zhu et al., ICCV 2017): unpaired translation between domains A and B with two
generators (``G_A``: A → B, ``G_B``: B → A) and two PatchGANs."""

from __future__ import annotations

from ..bundles import I2IModel
from ..networks import Network
from . import EvalCase, Family, register


class CycleGANModel(I2IModel):
    """CycleGAN (Zhu et al., 2017): ``G_A`` maps domain A→B, ``G_B`` maps B→A; either may be absent
    (a single reference generator file is a one-direction bundle). ``D_A`` judges G_A's outputs
    (domain B) and ``D_B`` G_B's (domain A), as in junyanz. ``config["domains"]`` names A and B."""

    family = "cyclegan"
    roles = ("G_A", "G_B", "D_A", "D_B")
    paper_url = "https://arxiv.org/abs/1703.10593"

    def _complete_config(self, cfg):
        domains = dict(cfg.get("domains") or {})
        domains.setdefault("A", "A")
        domains.setdefault("B", "B")
        cfg["domains"] = domains

    @property
    def domains(self) -> dict[str, str]:
        return self.config["domains"]

    @property
    def directions(self) -> list[str]:
        """Available directions: ``"AtoB"`` if ``G_A`` is present, ``"BtoA"`` if ``G_B`` is."""
        return FAMILY.available_directions(self.networks())

    def generator_for(self, direction: str = "AtoB") -> Network:
        """``G_A`` for ``"AtoB"``, ``G_B`` for ``"BtoA"``; ``ValueError`` if that direction is absent."""
        return FAMILY.generator(self, direction)

    @property
    def discriminator(self):
        """``D_A`` if present, else ``D_B`` (a bundle made from one discriminator file)."""
        return self.D_A if self.D_A is not None else self.D_B


class _CycleGAN(Family):
    def eval_cases(self, directions=None):
        cases = [EvalCase("AtoB", "G_A", "A", "B", "named_pairs", "AtoB", "AtoB_", "identity_AtoB_"),
                 EvalCase("BtoA", "G_B", "B", "A", "named_pairs", "BtoA", "BtoA_", "identity_BtoA_")]
        return [c for c in cases if directions is None or c.direction in directions]


FAMILY = register(_CycleGAN(
    name="cyclegan", bundle=CycleGANModel, summary="unpaired image-to-image translation (CycleGAN)",
    loader="Load CycleGAN Model", paper="https://arxiv.org/abs/1703.10593",
    file_roles={"G_A": "G_A", "G_B": "G_B", "D_A": "D_A", "D_B": "D_B", "D": "D_A"},
    directions={"AtoB": "G_A", "BtoA": "G_B"}))
