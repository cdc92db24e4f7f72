"""ComfyUI entry point of the comfyui-i2i-gans node pack (V3 API: ``comfy_entrypoint``).

ComfyUI imports this folder as a package; the nodes (``nodes/``) are its subpackage. The model library
``i2i_models`` (no ComfyUI import there) is imported under that one name everywhere — by the nodes, by
the trainers, by a user's script in the same process — so there is one copy of every class: this folder
goes first on ``sys.path``, and an ``i2i_models`` already imported from elsewhere is reported.
"""

from __future__ import annotations

import logging
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
_lib = sys.modules.get("i2i_models")
if _lib is not None and os.path.dirname(os.path.dirname(os.path.abspath(_lib.__file__))) != _HERE:
    logging.getLogger("comfyui-i2i-gans").warning(
        "i2i_gans: i2i_models was already imported from %s, not from this pack (%s); the nodes use that copy",
        os.path.dirname(_lib.__file__), _HERE)

try:
    import comfy_api  # noqa: F401  (present only inside ComfyUI)
except ImportError:  # imported outside ComfyUI (e.g. by a tool scanning the folder): nothing to register
    pass
else:
    if __package__:  # ComfyUI imports the folder as a package; pytest may import this file as a bare module
        from .nodes import comfy_entrypoint  # noqa: F401

WEB_DIRECTORY = "./web"
