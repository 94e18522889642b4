"""Fine-tuning entry point, trimmed from Chinese-CLIP's cn_clip/training/main.py (data loading and the
training loop are left out: the failure happens when the --resume checkpoint is loaded)."""

import json
import logging
import os
from pathlib import Path

import torch
import torch.distributed as dist

from cn_clip.clip.model import CLIP, resize_pos_embed
from cn_clip.training.params import parse_args


def main():
    args = parse_args()
    dist.init_process_group(backend="gloo")  # nccl on GPUs in the original
    args.checkpoint_path = os.path.join(args.logs, args.name, "checkpoints")

    # Build the CLIP model
    vision_model_config_file = Path(__file__).parent.parent / f"clip/model_configs/{args.vision_model.replace('/', '-')}.json"
    print('Loading vision model config from', vision_model_config_file)
    assert os.path.exists(vision_model_config_file)

    text_model_config_file = Path(__file__).parent.parent / f"clip/model_configs/{args.text_model.replace('/', '-')}.json"
    print('Loading text model config from', text_model_config_file)
    assert os.path.exists(text_model_config_file)

    with open(vision_model_config_file, 'r') as fv, open(text_model_config_file, 'r') as ft:
        model_info = json.load(fv)
        if isinstance(model_info['vision_layers'], str):
            model_info['vision_layers'] = eval(model_info['vision_layers'])
        for k, v in json.load(ft).items():
            model_info[k] = v
    model_info['use_flash_attention'] = args.use_flash_attention

    model = CLIP(**model_info)
    model = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)

    # Optionally resume from a checkpoint
    if args.resume is None:
        latest_path = os.path.join(args.checkpoint_path, "epoch_latest.pt")
        if os.path.isfile(latest_path):
            args.resume = latest_path
    if args.resume is not None:
        if os.path.isfile(args.resume):
            logging.info(f"=> begin to load checkpoint '{args.resume}'")
            checkpoint = torch.load(args.resume, map_location="cpu")
            sd = {k: v for k, v in checkpoint["state_dict"].items() if "bert.pooler" not in k}
            # Resize the positional embedding by interpolation, if needed
            resize_pos_embed(sd, model, prefix="module.")
            # Load the state dict
            model.load_state_dict(sd)
            logging.info(f"=> loaded checkpoint '{args.resume}' (epoch {checkpoint['epoch']})")
        else:
            logging.info("=> no checkpoint found at '{}'".format(args.resume))
    dist.destroy_process_group()
    print("loaded")


if __name__ == "__main__":
    main()
