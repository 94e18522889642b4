class InputExample:
    def __init__(self, guid, text_a, label=None):
        self.guid, self.text_a, self.label = guid, text_a, label


class DataProcessor:
    def get_labels(self, cfg):
        raise NotImplementedError()


class NerProcessor(DataProcessor):
    """Processor for the CoNLL-style NER data set."""

    def get_labels(self, cfg):
        labels = ['O']
        for label in cfg.labels:
            labels.append('B-' + label)
            labels.append('I-' + label)
        labels.append('[CLS]')
        labels.append('[SEP]')
        return labels
