"""A tiny randomly initialised SAM built from segment-anything's own classes, for tests and for
benchmarking the prompting code without weights (64 px input, a 16-channel ViT of depth 1)."""
from functools import partial

import torch

__all__ = ["build_tiny_sam"]


def build_tiny_sam(seed: int = 0, img_size: int = 64, dim: int = 16):
    """segment-anything ``Sam`` with random weights (never the real sizes), in eval mode."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(seed)
    grid = img_size // 16
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size, patch_size=16, in_chans=3, embed_dim=dim, depth=1, num_heads=2, mlp_ratio=2,
            out_chans=dim, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=False, window_size=0, global_attn_indexes=(),
        ),
        prompt_encoder=PromptEncoder(embed_dim=dim, image_embedding_size=(grid, grid),
                                     input_image_size=(img_size, img_size), mask_in_chans=4),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=dim, mlp_dim=2 * dim, num_heads=2),
            transformer_dim=dim, iou_head_depth=2, iou_head_hidden_dim=dim,
        ),
    )
    return sam.eval()
