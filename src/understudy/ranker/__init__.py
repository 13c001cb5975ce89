"""The answer ranker: which past reply answers a new ticket, learned from labelled replies."""

from .features import FEATURES, GROUPS, Features, ReplyCandidate, Ticket, features
from .model import DEFAULT_WEIGHTS, AnswerRanker

__all__ = ["DEFAULT_WEIGHTS", "FEATURES", "GROUPS", "AnswerRanker", "Features", "ReplyCandidate",
           "Ticket", "features"]
