"""Training CLIs: ``python -m train.pix2pix``, ``python -m train.cyclegan``, ``python -m train.stargan`` from a
checkout (installed: ``python -m i2i_train.…`` or the ``i2i-train-…`` commands)."""
