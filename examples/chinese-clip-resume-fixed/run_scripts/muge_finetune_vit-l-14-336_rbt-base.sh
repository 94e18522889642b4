#!/usr/bin/env bash
# Fine-tune Chinese-CLIP on MUGE (scaled-down copy of run_scripts/muge_finetune_vit-l-14-336_rbt-base.sh).
# Usage: bash run_scripts/muge_finetune_vit-l-14-336_rbt-base.sh

GPUS_PER_NODE=1
export PYTHONPATH=${PYTHONPATH}:$(pwd)

DATAPATH=.

# restore options
resume=${DATAPATH}/pretrained_weights/clip_cn_vit-l-14.pt # a 224px checkpoint: main.py interpolates its position embeddings to 336px
reset_data_offset="--reset-data-offset"
reset_optimizer="--reset-optimizer"

# output options (--logs is left to its default: recent torchrun takes `--logs` for its own `--logs-specs`)
name=muge_finetune_vit-l-14-336_roberta-base_bs128_8gpu

# model options
vision_model=ViT-L-14-336
text_model=RoBERTa-wwm-ext-base-chinese

torchrun --standalone --nproc_per_node=${GPUS_PER_NODE} cn_clip/training/main.py \
          --resume=${resume} \
          ${reset_data_offset} \
          ${reset_optimizer} \
          --name=${name} \
          --vision-model=${vision_model} \
          --text-model=${text_model}
