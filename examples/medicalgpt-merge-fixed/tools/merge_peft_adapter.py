"""Merge a LoRA adapter into its base model.

python merge_peft_adapter.py --base_model path/to/base --lora_model path/to/lora --output_dir ./merged
"""
import argparse

from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base_model", default=None, required=True, type=str, help="Base model name or path")
    parser.add_argument("--tokenizer_path", default=None, type=str, help="Please specify tokenization path.")
    parser.add_argument("--lora_model", default=None, required=True, type=str, help="LoRA model to be merged.")
    parser.add_argument("--resize_emb", action="store_true", help="Whether to resize model token embeddings")
    parser.add_argument("--output_dir", default="./merged", type=str)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_path or args.base_model)
    base_model = AutoModelForCausalLM.from_pretrained(args.base_model)
    if args.resize_emb:
        base_model_token_size = base_model.get_input_embeddings().weight.size(0)
        if base_model_token_size != len(tokenizer):
            base_model.resize_token_embeddings(len(tokenizer))
            print(f"Resize vocabulary size {base_model_token_size} to {len(tokenizer)}")

    new_model = PeftModel.from_pretrained(base_model, args.lora_model)
    new_model = new_model.merge_and_unload()
    tokenizer.save_pretrained(args.output_dir)
    new_model.save_pretrained(args.output_dir)
    print("loaded")


if __name__ == "__main__":
    main()
