"""Thumbnails for the example workflows: ``python example_workflows/make_thumbnails.py`` writes
``<workflow>.jpg`` (input -> output, made by the published models in ``example_workflows/models``)."""
import sys
from pathlib import Path
from PIL import Image, ImageDraw

EX = Path(__file__).resolve().parent
sys.path.insert(0, str(EX.parent))
import i2i_models  # noqa: E402
MODELS = EX / "models"

def pair(inp: Image.Image, out: Image.Image, label: str) -> Image.Image:
    w = 256
    a, b = inp.convert("RGB").resize((w, w), Image.BICUBIC), out.convert("RGB").resize((w, w), Image.BICUBIC)
    c = Image.new("RGB", (2 * w + 60, w + 40), "white")
    c.paste(a, (10, 10)); c.paste(b, (w + 50, 10))
    d = ImageDraw.Draw(c)
    d.text((w + 18, w // 2), "->", fill="black")
    d.text((10, w + 18), label, fill="black")
    return c

def run(name, model_dir, inp, label, **kw):
    model = i2i_models.load(model_dir)
    img = Image.open(EX / inp).convert("RGB")
    if model.family == "stargan":
        out = i2i_models.edit(model, img, kw.pop("strengths"), **kw)
    else:
        out = i2i_models.translate(model, img, **kw)
    pair(img, out, label).save(EX / f"{name}.jpg", quality=90)

if __name__ == "__main__":
    run("pix2pix_line2color", MODELS / "emoji-line2color-pix2pix", "i2i_line_art.png", "pix2pix: line art -> colour")
    run("cyclegan_twemoji2noto", MODELS / "emoji-twemoji2noto-cyclegan", "i2i_twemoji.png", "CycleGAN: twemoji -> noto")
    run("stargan_edit_people", MODELS / "emoji-people-stargan", "i2i_person.png", "StarGAN: Woman +1, Skin_Dark +1 (label-free)",
        strengths={"Woman": 1.0, "Skin_Dark": 1.0}, working_size=64, keep_detail=True)
    img = Image.open(EX / "i2i_horse.png").convert("RGB").resize((256, 256))
    c = Image.new("RGB", (572, 296), "white"); c.paste(img, (10, 10))
    d = ImageDraw.Draw(c)
    d.text((290, 100), "official/cyclegan/horse2zebra", fill="black")
    d.text((290, 120), "(the CycleGAN paper's model,", fill="black")
    d.text((290, 140), " downloaded on first run)", fill="black")
    c.save(EX / "cyclegan_official_horse2zebra.jpg", quality=90)
    print("ok")
