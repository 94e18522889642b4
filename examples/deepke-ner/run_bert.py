import logging
import os

import hydra
from hydra import utils
from transformers import BertConfig, BertTokenizer

from models.ner import TrainNer
from tools import NerProcessor

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="config")
def main(cfg):
    cwd = utils.get_original_cwd()
    cfg.cwd = cwd
    processor = NerProcessor()
    label_list = processor.get_labels(cfg)
    num_labels = len(label_list) + 1

    tokenizer = BertTokenizer.from_pretrained(cfg.bert_model, do_lower_case=cfg.do_lower_case)
    config = BertConfig.from_pretrained(cfg.bert_model, num_labels=num_labels, finetuning_task=cfg.task_name)
    model = TrainNer.from_pretrained(cfg.bert_model, from_tf=False, config=config)
    logger.info("model loaded from %s", os.path.join(cwd, cfg.bert_model))


if __name__ == "__main__":
    main()
