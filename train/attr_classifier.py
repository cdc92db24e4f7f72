"""An independent attribute classifier for scoring StarGAN edits (never the model's own discriminator).

A small CNN (4 strided conv layers, global average pooling, dropout, one softmax head per one-hot attribute
group) trained on the *train* split only of a CelebA-style dataset (``list_attr.txt``) for 20 epochs (AdamW,
one-cycle learning rate, random 72 -> 64 px crops and flips) and cached in ``--cache_dir``. On
emoji_people_attrs it reads skin tone in ~97% and gender in ~67% of real val images (the quality issue's
classifier: ~97% and ~78%); 4 plain Adam epochs, the first version, read skin tone in only ~79%.
``accuracy`` reports how well it reads real validation images, so its verdict on edited images can be judged.
"""

from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import AttributeDataset, Transform, eval_transform

log = logging.getLogger("train")
CLASSIFIER_VERSION = 2  # part of the cache key: a changed recipe retrains instead of loading an old cache


class AttributeCNN(nn.Module):
    """[B, 3, S, S] in [-1, 1] -> list of logits, one [B, len(group)] per group."""

    def __init__(self, group_sizes: list[int], width: int = 32, dropout: float = 0.3):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        layers, c = [], 3
        for k in range(4):
            layers += [nn.Conv2d(c, width * 2 ** k, 3, 2, 1), nn.BatchNorm2d(width * 2 ** k), nn.ReLU(True)]
            c = width * 2 ** k
        self.features = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(c, n) for n in group_sizes)

    def forward(self, x):
        h = self.dropout(self.features(x).mean((2, 3)))
        return [head(h) for head in self.heads]


class AttributeClassifier:
    """Reads one-hot attribute groups (e.g. gender, skin tone) of images in [-1, 1]."""

    def __init__(self, attributes: list[str], groups: list[list[str]], size: int = 64):
        self.attributes, self.groups, self.size = attributes, groups, size
        self.index = [[attributes.index(a) for a in g] for g in groups]
        self.net = AttributeCNN([len(g) for g in groups])

    def _targets(self, labels: torch.Tensor) -> list[torch.Tensor]:
        return [labels[:, idx].argmax(1) for idx in self.index]

    def fit(self, ds: AttributeDataset, epochs: int = 20, batch_size: int = 64, seed: int = 0) -> None:
        """Train on ``ds`` (its own augmentation) with AdamW (weight decay 0.05) and a one-cycle schedule
        peaking at lr 2e-3; the summed cross-entropy of the groups."""
        torch.manual_seed(seed)
        random.seed(seed)
        opt = torch.optim.AdamW(self.net.parameters(), 1e-3, weight_decay=0.05)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * -(-len(ds) // batch_size))
        self.net.train()
        for epoch in range(epochs):
            ds.epoch = epoch
            loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=1,
                                                 generator=torch.Generator().manual_seed(seed + epoch))
            for b in loader:
                logits = self.net(b["image"])
                loss = sum(F.cross_entropy(lg, t) for lg, t in zip(logits, self._targets(b["label"])))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            log.info("attribute classifier epoch %d: loss %.3f", epoch, loss.item())
        self.net.eval()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Class index per group for images [B, 3, H, W] in [-1, 1] (resized to the classifier's size)."""
        self.net.eval()
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return [lg.argmax(1) for lg in self.net(x)]

    def reads(self, x: torch.Tensor, labels: torch.Tensor, groups: list[int] | None = None) -> torch.Tensor:
        """[B] bool: every selected group read as in ``labels``."""
        pred, tgt = self.predict(x), self._targets(labels)
        ok = torch.ones(x.shape[0], dtype=torch.bool)
        for k, (p, t) in enumerate(zip(pred, tgt)):
            if groups is None or k in groups:
                ok &= p == t
        return ok

    def accuracy(self, ds: AttributeDataset) -> dict[str, float]:
        correct = [0] * len(self.groups)
        n = 0
        for b in torch.utils.data.DataLoader(ds, batch_size=128):
            for k, (p, t) in enumerate(zip(self.predict(b["image"]), self._targets(b["label"]))):
                correct[k] += int((p == t).sum())
            n += b["image"].shape[0]
        return {"+".join(g[:1]) + "_group": c / n for g, c in zip(self.groups, correct)}


def load_or_train(root: Path, attributes: list[str], groups: list[list[str]], cache_dir: Path, size: int = 64,
                  epochs: int = 20) -> AttributeClassifier:
    """The classifier for ``root``/train at ``size`` px: trained once (a few minutes on a CPU for
    emoji_people_attrs), then loaded from ``cache_dir``. The cache key hashes the attribute file's content with
    ``CLASSIFIER_VERSION``, the attributes, groups, size and epochs, so a changed dataset or recipe retrains.
    Raises ``FileNotFoundError`` when ``root/train/list_attr.txt`` is missing."""
    from safetensors.torch import load_file, save_file

    attr_file = root / "train" / "list_attr.txt"
    key = hashlib.sha256(attr_file.read_bytes() + repr((CLASSIFIER_VERSION, attributes, groups, size, epochs)).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"attr_classifier-{key}.safetensors"
    clf = AttributeClassifier(attributes, groups, size)
    if path.is_file():
        clf.net.load_state_dict(load_file(str(path)))
        clf.net.eval()
        return clf
    ds = AttributeDataset(root / "train" / "images", Transform("resize_and_crop", size * 9 // 8, size, True), attr_file, attributes)
    log.info("training the independent attribute classifier on %s (%d images, train split only)", attr_file, len(ds))
    clf.fit(ds, epochs)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in clf.net.state_dict().items()}, str(path))
    return clf


def val_dataset(root: Path, attributes: list[str], split: str, size: int) -> AttributeDataset:
    return AttributeDataset(root / split / "images", eval_transform(size), root / split / "list_attr.txt", attributes)
