"""ComfyUI nodes (thin glue over ``i2i_models``)."""
