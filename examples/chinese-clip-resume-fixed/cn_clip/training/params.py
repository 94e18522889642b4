import argparse


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=str, default="./logs/", help="Where to store logs.")
    parser.add_argument("--name", type=str, default="train_clip", help="Optional identifier for the experiment.")
    parser.add_argument("--resume", default=None, type=str, help="path to latest checkpoint (default: none)")
    parser.add_argument("--reset-optimizer", action="store_true", default=False)
    parser.add_argument("--reset-data-offset", action="store_true", default=False)
    parser.add_argument(
        "--vision-model",
        choices=["ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14", "RN50"],
        default="ViT-B-16",
        help="Name of the vision backbone to use.",
    )
    parser.add_argument(
        "--text-model",
        choices=["RoBERTa-wwm-ext-base-chinese", "RoBERTa-wwm-ext-large-chinese", "RBT3-chinese"],
        default="RoBERTa-wwm-ext-base-chinese",
        help="Name of the text backbone to use.",
    )
    parser.add_argument("--use-flash-attention", default=False, action="store_true")
    args = parser.parse_args()
    return args
