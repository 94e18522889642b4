from .preprocess import NerProcessor
