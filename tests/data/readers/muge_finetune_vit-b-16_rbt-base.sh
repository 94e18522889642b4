#!/usr/bin/env
# Command: bash run_scripts/muge_finetune_vit-b-16_rbt-base.sh ${DATAPATH}

GPUS_PER_NODE=8
WORKER_CNT=1
export MASTER_ADDR=localhost
export MASTER_PORT=8514
export RANK=0

export PYTHONPATH=${PYTHONPATH}:`pwd`/cn_clip/

DATAPATH=${1}

# restore options
resume=${DATAPATH}/pretrained_weights/clip_cn_vit-l-14-336.pt # or specify your customed ckpt path to resume
ckpt=pretrained/clip_cn_vit-b-16.pt
reset_optimizer="--reset-optimizer"
# reset_optimizer=""
name=muge_finetune_vit-b-16_roberta-base_bs128_8gpu
vision_model=ViT-B-16
text_model=RoBERTa-wwm-ext-base-chinese

python3 -m torch.distributed.launch --use_env --nproc_per_node=${GPUS_PER_NODE} --nnodes=${WORKER_CNT} --node_rank=${RANK} \
          --master_addr=${MASTER_ADDR} --master_port=${MASTER_PORT} cn_clip/training/main.py \
          --resume=${resume} \
          ${reset_optimizer} \
          --clip-weight-path ${ckpt} \
          --name=${name} \
          --vision-model=${vision_model} \
          --text-model=${text_model}
