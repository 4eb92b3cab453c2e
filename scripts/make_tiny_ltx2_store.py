"""Build a tiny, randomly initialised LTX-2 model store from configs (no downloads).

The store has exactly the layout of a real one (see docs/ltx2.md): a diffusers
pipeline folder plus `kinora-ltx2.json`. The components are the real diffusers /
transformers classes with very small widths and depths, so the production loading
and serving code runs end to end on a CPU in seconds. Its output is noise-like
video and audio, which is all the tests need: shapes, timing, encoding, determinism.

    python scripts/make_tiny_ltx2_store.py OUT_DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

# Sentences the tiny tokenizer is trained on; unknown words map to <unk>.
_CORPUS = [
    "a robot dancing in the rain at night",
    "a cat jumps over a fence in the garden",
    "two friends shoot a basketball into the hoop",
    "cinematic close up of a woman smiling at sunset",
    "an anime city street with neon lights and people walking",
]

# Everything the generated clip shape depends on; a real store's manifest says the
# same things about the real checkpoint.
TINY_MANIFEST = {
    "format": "kinora-ltx2/1",
    "variant": "tiny-random",
    "pipeline": "LTX2Pipeline",
    "dtype": "bfloat16",  # what production runs; CPUs run bf16 too
    # The tiny VAE compresses 32x spatially like the real one, but a CPU cannot run
    # the transformer at 720p in a test, so generation runs at 1/8 of the asked size
    # (rounded to the VAE grid) and frames are resized up before encoding.
    "resolution_scale": 0.125,
    "steps": 2,
    "guidance_scale": 1.0,
    "distilled": False,
    "max_sequence_length": 16,
    "stg_blocks": [1],  # of its 2 transformer blocks
}


# The released LTX-2 checkpoints' scheduler config (scheduler/scheduler_config.json): the
# resolution-dependent shift and terminal stretch whose float32 maths collapse at large
# sizes, so the tiny store meets the same scheduler the real one does.
LTX2_SCHEDULER = {
    "base_image_seq_len": 1024,
    "base_shift": 0.95,
    "max_image_seq_len": 4096,
    "max_shift": 2.05,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": 0.1,
    "time_shift_type": "exponential",
    "use_dynamic_shifting": True,
}


def build_tokenizer(folder: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import GemmaTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    words = sorted({w for line in _CORPUS for w in line.split()})
    vocab = {token: index for index, token in enumerate(specials + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    tokenizer = GemmaTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=TINY_MANIFEST["max_sequence_length"],
    )
    tokenizer.save_pretrained(folder)
    return tokenizer, len(vocab)


def build_components(vocab_size: int) -> dict:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    text_hidden, text_layers = 16, 2
    text_config = Gemma3Config(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": text_hidden,
            "intermediate_size": 32,
            "num_hidden_layers": text_layers,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 8,
            "max_position_embeddings": 64,
            "sliding_window": 16,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "bos_token_id": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        boi_token_index=vocab_size - 1,
        eoi_token_index=vocab_size - 1,
        image_token_index=vocab_size - 1,
    )
    text_encoder = Gemma3ForConditionalGeneration(text_config).eval()
    transformer = LTX2VideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        caption_channels=text_hidden,
        rope_double_precision=False,
        rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=text_hidden,
        text_proj_in_factor=text_layers + 1,
        video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_double_precision=False,
        rope_type="split",
    )
    # 32x spatial (patch 4 x three 2x stages) and 8x temporal, like the real VAE.
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8),
        down_block_types=("LTX2VideoDownBlock3D",) * 3,
        decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatiotemporal",) * 3,
        upsample_type=("spatiotemporal",) * 3,
        upsample_residual=(False, False, False),
        upsample_factor=(1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=4,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=4,
    )
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=16,
        out_channels=2,
        upsample_kernel_sizes=[20, 32],
        upsample_factors=[10, 16],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3]],
        output_sampling_rate=16000,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "audio_vae": audio_vae,
        "text_encoder": text_encoder,
        "connectors": connectors,
        "vocoder": vocoder,
        "scheduler": FlowMatchEulerDiscreteScheduler(**LTX2_SCHEDULER),
    }


def make_store(out: str | Path, seed: int = 0, dtype: str = "bfloat16", **manifest) -> Path:
    """Write the store; `dtype` is the weights' (and the manifest's) dtype, `manifest`
    overrides manifest keys."""
    from diffusers import LTX2Pipeline

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer, vocab_size = build_tokenizer(folder / "tokenizer")
    components = build_components(vocab_size)
    for component in components.values():
        if isinstance(component, torch.nn.Module):
            component.to(getattr(torch, dtype))
    pipe = LTX2Pipeline(tokenizer=tokenizer, **components)
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / "kinora-ltx2.json").write_text(json.dumps({**TINY_MANIFEST, "dtype": dtype, **manifest}, indent=2) + "\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the model store into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    args = parser.parse_args(argv)
    path = make_store(args.out, args.seed, args.dtype)
    print(f"tiny LTX-2 model store written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
