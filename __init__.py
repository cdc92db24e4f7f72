"""ComfyUI entry point of the comfyui-i2i-gans node pack (V3 API: ``comfy_entrypoint``).

ComfyUI imports this folder as a package, so everything below uses relative imports only.
The model library lives in ``i2i_models`` (no ComfyUI import there) and is usable on its own.
"""

from __future__ import annotations

try:
    import comfy_api  # noqa: F401  (present only inside ComfyUI)
except ImportError:  # imported outside ComfyUI (e.g. by a tool scanning the folder): nothing to register
    pass
else:
    if __package__:  # ComfyUI imports the folder as a package; pytest may import this file as a bare module
        from .nodes import comfy_entrypoint  # noqa: F401

WEB_DIRECTORY = "./web"
