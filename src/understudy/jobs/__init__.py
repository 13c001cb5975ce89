"""Language-model batch jobs: synthetic Q&A from passages and notes on snippets, resumable."""

from .annotate_code import AnnotateCode
from .base import Estimate, Job, JobReport, Prompt, load_prompt, parse_json
from .synth_qa import SynthQA

__all__ = ["AnnotateCode", "Estimate", "Job", "JobReport", "Prompt", "SynthQA", "load_prompt",
           "parse_json"]
