"""Tiny random-weight pipelines of each family, made from configs on the spot: nothing is
downloaded. Each is saved with `save_pretrained`, so reelgate loads it exactly as it loads a
real model directory.

The architectures are the real ones (same VAE compression, same patching, same pipeline code)
with a few channels and one block, so a clip renders in seconds on a CPU. The tokenizer is a
small Unigram vocabulary built with the `tokenizers` library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

# diffusers' and transformers' constructors are untyped: build through `Any`.
D: Any = diffusers
T: Any = transformers

TEXT_DIM = 16  # the text encoder's width, which each transformer reads
WORDS = " ".join(
    (
        "a an the cat dog fox bird red blue green sky sea forest night day snowy sunny at in on",
        "of and with mountain city beach river walking running flying cinematic anime noir film",
        "style camera orbits around subject colours grain black white",
    )
).split()


def tokenizer() -> Any:
    """A T5-like tokenizer: Unigram pieces with SentencePiece's word marker, `</s>` appended."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("▁" + word, -1.0 - i / 100) for i, word in enumerate(WORDS)]
    pieces += [("▁", -20.0)] + [(c, -30.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,"]
    model = Tokenizer(Unigram(pieces, unk_id=2))
    model.normalizer = normalizers.Lowercase()
    model.pre_tokenizer = pre_tokenizers.Metaspace()
    model.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return T.PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _text_encoder(umt5: bool, vocab: int) -> Any:
    shape: dict[str, Any] = {
        "vocab_size": vocab,
        "d_model": TEXT_DIM,
        "d_kv": 8,
        "d_ff": 32,
        "num_layers": 1,
        "num_heads": 2,
        "relative_attention_num_buckets": 8,
    }
    torch.manual_seed(0)
    if umt5:
        return T.UMT5EncoderModel(T.UMT5Config(**shape))
    return T.T5EncoderModel(T.T5Config(**shape))


def _wan(layers: int = 1) -> Any:
    """Wan with a TI2V transformer (`expand_timesteps`), so the same weights do image-to-video."""
    tok = tokenizer()
    encoder = _text_encoder(True, len(tok))
    torch.manual_seed(0)
    vae = D.AutoencoderKLWan(
        base_dim=4,
        z_dim=4,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4,
    )
    transformer = D.WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=4,
        out_channels=4,
        text_dim=TEXT_DIM,
        freq_dim=16,
        ffn_dim=32,
        num_layers=layers,
        rope_max_seq_len=32,
    )
    return D.WanPipeline(
        tokenizer=tok,
        text_encoder=encoder,
        vae=vae,
        scheduler=D.FlowMatchEulerDiscreteScheduler(shift=3.0),
        transformer=transformer,
        expand_timesteps=True,
    )


def _ltx() -> Any:
    tok = tokenizer()
    encoder = _text_encoder(False, len(tok))
    torch.manual_seed(0)
    vae = D.AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
    )
    transformer = D.LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=TEXT_DIM,
    )
    return D.LTXPipeline(
        tokenizer=tok,
        text_encoder=encoder,
        vae=vae,
        scheduler=D.FlowMatchEulerDiscreteScheduler(),
        transformer=transformer,
    )


def _cogvideox(image: bool) -> Any:
    """CogVideoX; its image-to-video transformer reads the image latents beside the noise."""
    tok = tokenizer()
    encoder = _text_encoder(False, len(tok))
    torch.manual_seed(0)
    vae = D.AutoencoderKLCogVideoX(
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    transformer = D.CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8 if image else 4,
        out_channels=4,
        time_embed_dim=8,
        text_embed_dim=TEXT_DIM,
        num_layers=1,
        sample_width=8,
        sample_height=8,
        sample_frames=9,
        patch_size=2,
        use_rotary_positional_embeddings=True,
    )
    pipeline = D.CogVideoXImageToVideoPipeline if image else D.CogVideoXPipeline
    return pipeline(
        tokenizer=tok,
        text_encoder=encoder,
        vae=vae,
        transformer=transformer,
        scheduler=D.CogVideoXDDIMScheduler(),
    )


def build_tiny(family: str, *, image: bool = False, layers: int = 1) -> Any:
    """The tiny pipeline of `family` (`image`: CogVideoX's image-to-video one; `layers`:
    Wan's transformer blocks, two for the first-block cache), in memory and in eval mode."""
    if family == "wan":
        pipe = _wan(layers)
    elif family == "ltx":
        pipe = _ltx()
    elif family == "cogvideox":
        pipe = _cogvideox(image)
    else:
        raise ValueError(f"no tiny {family} pipeline")
    # Modules built from a config start in training mode, where the text encoder's dropout
    # makes every call differ; from_pretrained returns them in eval mode, as here.
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    return pipe


def save_tiny(family: str, target: Path, *, image: bool = False, layers: int = 1) -> Path:
    """Build the tiny pipeline of `family` and save it under `target`; returns `target`."""
    build_tiny(family, image=image, layers=layers).save_pretrained(str(target))
    return target
