"""The answer ranker: which past reply answers a new ticket, learned from labelled replies."""

from .features import FEATURES, GROUPS, ReplyCandidate, reply_features, thread_features
from .model import DEFAULT_WEIGHTS, AnswerRanker

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "GROUPS", "AnswerRanker", "ReplyCandidate",
           "reply_features", "thread_features"]
