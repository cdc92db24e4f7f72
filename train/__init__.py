"""Training CLIs: ``python -m train.pix2pix``, ``python -m train.cyclegan``, ``python -m train.stargan``."""
