import torch.nn.functional as F
from transformers import BertForTokenClassification


class TrainNer(BertForTokenClassification):
    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None, valid_ids=None,
                attention_mask_label=None, device=None):
        sequence_output = self.bert(input_ids, token_type_ids, attention_mask, head_mask=None)[0]
        logits = self.classifier(self.dropout(sequence_output))
        if labels is not None:
            return F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1), ignore_index=0)
        return logits
