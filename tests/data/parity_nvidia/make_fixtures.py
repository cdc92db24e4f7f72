"""Build the NVIDIA/pix2pixHD parity fixtures in this folder (run once; the outputs are committed).

Each case builds a generator with NVIDIA's own class code (``nvidia_networks.py``, their
``models/networks.py`` verbatim), initialises it as their ``define_G`` does (``weights_init``; batch-norm
running statistics then randomised so eval mode differs from batch statistics), saves its state dict as their
``BaseModel.save_network`` does (``torch.save(net.cpu().state_dict(), 'latest_net_G.pth')``), and records the
outputs of their forward for fixed inputs, the inputs built as their ``Pix2PixHDModel.encode_input`` builds them
(one-hot by ``scatter_``, instance edges by ``get_edges``). ``opt.txt`` is written in their
``BaseOptions.parse`` format where a case has one.

    python tests/data/parity_nvidia/make_fixtures.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import nvidia_networks as nv  # noqa: E402

COMMIT = "14b3b3c7fff413086e3b58df52096f16b6891172"


def weights_init(m):  # NVIDIA networks.weights_init
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find('BatchNorm2d') != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def get_edges(t):  # NVIDIA Pix2PixHDModel.get_edges (ByteTensor on CPU; bool ops as theirs)
    edge = torch.zeros(t.size(), dtype=torch.uint8)
    edge[:, :, :, 1:] = edge[:, :, :, 1:] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, :, :-1] = edge[:, :, :, :-1] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, 1:, :] = edge[:, :, 1:, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    edge[:, :, :-1, :] = edge[:, :, :-1, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    return edge.float()


def encode_input(label_map, label_nc, inst_map=None):  # NVIDIA Pix2PixHDModel.encode_input (CPU)
    if label_nc == 0:
        input_label = label_map
    else:
        size = label_map.size()
        input_label = torch.zeros((size[0], label_nc, size[2], size[3])).scatter_(1, label_map.long(), 1.0)
    if inst_map is not None:
        input_label = torch.cat((input_label, get_edges(inst_map)), dim=1)
    return input_label


def blobs(seed: int, n: int, size: int, count: int) -> torch.Tensor:
    """[2, 1, size, size] float ids 0..n-1 in rectangles (a label or instance map as their loader gives it)."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(2, 1, size, size)
    for b in range(2):
        for _ in range(count):
            y0, x0 = torch.randint(0, size - 4, (2,), generator=g).tolist()
            h, w = torch.randint(4, size // 2, (2,), generator=g).tolist()
            out[b, 0, y0:y0 + h, x0:x0 + w] = float(torch.randint(0, n, (1,), generator=g))
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CASES = [
    # global, RGB input (--label_nc 0 --no_instance), batch norm, 3 down-samplings: not a junyanz ResNet
    dict(case="nvidia_global_rgb_batch", netG="global", norm="batch", label_nc=0, instance=False,
         ctor=dict(input_nc=3, output_nc=3, ngf=8, n_downsampling=3, n_blocks=2), size=64, opt_txt=False),
    # global with junyanz's layout exactly (2 down-samplings, instance norm) but a label map of 6 classes + edges
    dict(case="nvidia_global_label6_inst", netG="global", norm="instance", label_nc=6, instance=True,
         ctor=dict(input_nc=7, output_nc=3, ngf=8, n_downsampling=2, n_blocks=3), size=64, opt_txt=False),
    # local enhancer, 4 classes without instance map: 4 input channels, which only opt.txt disambiguates
    dict(case="nvidia_local_label4_noinst", netG="local", norm="instance", label_nc=4, instance=False,
         ctor=dict(input_nc=4, output_nc=3, ngf=4, n_downsample_global=2, n_blocks_global=2, n_local_enhancers=1,
                   n_blocks_local=2), size=64, opt_txt=True),
    # two local enhancers, RGB, instance norm (NVIDIA's default norm)
    dict(case="nvidia_local2_rgb", netG="local", norm="instance", label_nc=0, instance=False,
         ctor=dict(input_nc=3, output_nc=3, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=2,
                   n_blocks_local=1), size=64, opt_txt=False),
]


def main() -> None:
    manifest = {"generated_with": {"torch": torch.__version__, "device": "cpu", "dtype": "float32"},
                "source": {"repo": "NVIDIA/pix2pixHD", "file": "models/networks.py", "commit": COMMIT},
                "tolerance": {"atol": 1e-5, "rtol": 1e-5}, "cases": []}
    for i, c in enumerate(CASES):
        torch.manual_seed(100 + i)
        folder = HERE / c["case"]
        folder.mkdir(exist_ok=True)
        norm_layer = nv.get_norm_layer(c["norm"])
        cls = nv.GlobalGenerator if c["netG"] == "global" else nv.LocalEnhancer
        net = cls(norm_layer=norm_layer, **c["ctor"])
        net.apply(weights_init)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        torch.save(net.cpu().state_dict(), folder / "latest_net_G.pth")
        size = c["size"]
        g = torch.Generator().manual_seed(2000 + i)
        tensors = {}
        if c["label_nc"]:
            label = blobs(3000 + i, c["label_nc"], size, 12)
            tensors["label"] = label[:, 0].to(torch.uint8)  # [B, H, W] ids
            inst = None
            if c["instance"]:
                inst = blobs(4000 + i, 50, size, 16)
                tensors["instance"] = inst[:, 0].to(torch.int32)
            x = encode_input(label, c["label_nc"], inst)
        else:
            x = torch.rand((2, 3, size, size), generator=g) * 2 - 1
            tensors["x"] = x
        net.eval()
        with torch.no_grad():
            tensors["output_eval"] = net(x)
            if c["norm"] == "batch":
                net.train()
                tensors["output_train_bn_batchstats"] = net(x)
        files = {}
        for name, t in tensors.items():
            torch.save(t.contiguous(), folder / f"{name}.pt")
            files[name] = {"file": f"{c['case']}/{name}.pt", "shape": list(t.shape), "dtype": str(t.dtype),
                           "sha256": sha(folder / f"{name}.pt")}
        if c["opt_txt"]:
            opts = {"name": "label2emoji", "netG": c["netG"], "ngf": c["ctor"]["ngf"], "norm": c["norm"],
                    "label_nc": c["label_nc"], "input_nc": 3, "output_nc": 3, "no_instance": not c["instance"],
                    "n_downsample_global": c["ctor"]["n_downsample_global"],
                    "n_blocks_global": c["ctor"]["n_blocks_global"], "n_local_enhancers": c["ctor"]["n_local_enhancers"],
                    "n_blocks_local": c["ctor"]["n_blocks_local"], "fineSize": 512, "loadSize": 1024, "isTrain": True}
            with open(folder / "opt.txt", "wt") as opt_file:  # BaseOptions.parse
                opt_file.write('------------ Options -------------\n')
                for k, v in sorted(opts.items()):
                    opt_file.write('%s: %s\n' % (str(k), str(v)))
                opt_file.write('-------------- End ----------------\n')
        manifest["cases"].append({"case": c["case"], "cls": cls.__name__, "netG": c["netG"], "norm": c["norm"],
                                  "label_nc": c["label_nc"], "instance": c["instance"], "constructor": c["ctor"],
                                  "opt_txt": c["opt_txt"],
                                  "checkpoint": {"file": f"{c['case']}/latest_net_G.pth",
                                                 "sha256": sha(folder / "latest_net_G.pth")},
                                  "tensors": files})
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
