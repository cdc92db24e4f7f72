"""Typed training configs: per-recipe defaults, presets before the command line, versioned args.json."""

from __future__ import annotations

import json

import pytest

from train.config import CONFIG_VERSION, load_saved, parse, to_json
from train.cyclegan import CycleGANConfig
from train.pix2pix import Pix2PixConfig
from train.stargan import StarGANConfig


def test_defaults_preset_and_command_line_in_that_order():
    cfg = parse(Pix2PixConfig, [], "p")
    assert cfg.dataset.endswith("emoji_line2color") and cfg.netG == "unet_128" and cfg.crop_size == 128  # preset
    assert cfg.load_size == round(128 * 1.12) and cfg.name == "pix2pix-emoji_line2color" and cfg.license == "cc-by-sa-4.0"
    cfg = parse(Pix2PixConfig, ["--crop_size", "64", "--netG", "unet_64"], "p")
    assert (cfg.crop_size, cfg.netG, cfg.max_steps) == (64, "unet_64", 200)  # given options win, the rest is preset
    cfg = parse(Pix2PixConfig, ["--dataset", "somewhere"], "p")
    assert (cfg.crop_size, cfg.netG, cfg.max_steps, cfg.norm) == (256, "unet_256", None, "batch")  # the paper's
    star = parse(StarGANConfig, ["--dataset", "x", "--crop_size", "64"], "s")
    assert (star.lr, star.load_size, star.batch_size, star.gan_mode) == (1e-4, 64, 16, "wgangp")  # yunjey's
    assert not hasattr(star, "netG") and parse(CycleGANConfig, [], "c").gan_mode == "lsgan"
    with pytest.raises(SystemExit):
        parse(StarGANConfig, ["--ngf", "8"], "s")  # not a StarGAN option


def test_saved_configs_are_versioned_and_migrated():
    cfg = parse(CycleGANConfig, ["--dataset", "d"], "c")
    saved = json.loads(to_json(cfg))
    assert saved["config_version"] == CONFIG_VERSION and saved["reframe_A"] == "auto"
    assert load_saved(CycleGANConfig, saved).reframe_A == "auto"  # today's file: unchanged
    old = {k: v for k, v in saved.items() if k not in ("config_version", "reframe_A", "explicit")}
    old.update(_explicit=["dataset"], netG_unknown_option=1)  # an argparse dump of the previous release
    back = load_saved(CycleGANConfig, old)
    assert back.reframe_A == "1" and back.explicit == ["dataset"]  # trained without the zoom: resumes without it
    star = {k: v for k, v in json.loads(to_json(parse(StarGANConfig, ["--dataset", "d"], "s"))).items()
            if k not in ("config_version", "lambda_id")}
    assert load_saved(StarGANConfig, star).lambda_id == 0.0
