"""ltx2_loading: what Ltx2Model (kinora.models.ltx2) does with the pipeline it loads: the
text-to-video, image-to-video and condition pipelines built over one set of components, the dtype
each component computes in, and the cancel points hooked into every block."""

from __future__ import annotations

_MODULES = ("transformer", "vae", "audio_vae", "connectors", "vocoder", "text_encoder")


def _share(cls, pipe, **replace):
    """A `cls` pipeline over `pipe`'s own component objects: no copy, no dtype change."""
    import inspect

    wanted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    components = {name: component for name, component in pipe.components.items() if name in wanted}
    return cls(**{**components, **replace})


def _component_dtypes(pipe) -> dict[str, str]:
    """The dtype each model component computes in: that of its floating-point weights
    (buffers such as rotary frequencies stay float32 by design; a component holding
    several weight dtypes reports the most common by element count)."""
    out = {}
    for name in _MODULES:
        module = getattr(pipe, name, None)
        if module is None:
            continue
        counts: dict[str, int] = {}
        for tensor in module.parameters():
            if tensor.is_floating_point():
                key = str(tensor.dtype).removeprefix("torch.")
                counts[key] = counts.get(key, 0) + tensor.numel()
        if counts:
            out[name] = max(counts, key=counts.get)
    return out


def _install_cancel_points(pipe, check) -> dict[str, int]:
    """Forward pre-hooks that call `check` (which raises to stop) before every text
    encoder layer, transformer block, video and audio decoder block and the vocoder, so a
    cancel lands within one block (milliseconds to a second on a GPU), not only between
    denoising steps: the text encoding, one 4-pass step at 1080p and the tiled decode
    each take tens of seconds. Returns how many points each component got."""
    import torch

    def blocks(module, names):
        found = [m for name in names for m in getattr(module, name, None) or [] if isinstance(m, torch.nn.Module)]
        return found or [module]

    text_layers = [m for m in pipe.text_encoder.modules() if type(m).__name__.endswith("DecoderLayer")]
    points = {
        "text_encoder": text_layers or [pipe.text_encoder],
        "transformer": list(pipe.transformer.transformer_blocks),
        "vae": blocks(pipe.vae.decoder, ("up_blocks",)) + [pipe.vae.decoder],
        "audio_vae": [pipe.audio_vae.decoder],
        "vocoder": [pipe.vocoder],
    }
    for modules in points.values():
        for module in modules:
            module.register_forward_pre_hook(check)
    return {name: len(modules) for name, modules in points.items()}
