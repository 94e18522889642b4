#!/bin/bash
# Merge the LoRA from incremental pre-training on the expanded (Chinese) vocabulary into the base.
# Pre-training ran with --modules_to_save embed_tokens,lm_head, so the adapter carries full-size
# embeddings for the grown tokenizer.
python tools/merge_peft_adapter.py \
    --base_model models/llama-base \
    --tokenizer_path outputs-pt-zh/lora \
    --lora_model outputs-pt-zh/lora \
    --output_dir merged-pt \
    --resize_emb
