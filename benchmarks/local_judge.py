"""Does the local model tell a right draft from a wrong one? `--judge local` on written pairs.

    python benchmarks/local_judge.py [--model FOLDER]

Each case is a ticket, the team's reply, a draft that gives the same solution and a draft
about something else (all written for this benchmark). The local model (the bundled
SmolLM2 unless --model) rates both through `evaluate.judge.Judge` exactly as `eval backtest
--judge local` does; prints the mean score of each kind, how often the right draft scores
higher, and the seconds per rating, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CASES = [
    ("Login with SSO fails", "Okta says invalid state after the redirect.",
     "Set SSO_STATE_TTL=600 and clear your cookies; the state expired.",
     "Raise SSO_STATE_TTL to 600 and clear the browser's cookies.",
     "Our office is closed on Sundays."),
    ("CSV export garbles accents", "The export shows Ã© instead of é.",
     "Upgrade to 2.3.1, which fixes the CSV encoder.",
     "Version 2.3.1 fixes the encoder: please upgrade.",
     "Try restarting your router."),
    ("Container exits on ARM", "The Docker image quits at once on a Raspberry Pi.",
     "Use the arm64 tag: acme/app:2.4-arm64.",
     "Pull the arm64 image, acme/app:2.4-arm64, instead of the default tag.",
     "Invoices are sent on the first day of each month."),
    ("Webhook signature", "Which header carries the webhook signature?",
     "Every delivery carries an X-Acme-Signature header, an HMAC of the body.",
     "Check the X-Acme-Signature header: it is an HMAC of the body with your secret.",
     "You can change your avatar under Profile > Picture."),
    ("Backups fail at night", "The nightly backup stops with 'disk full'.",
     "Set backup.retention_days to 7 so old archives are pruned.",
     "Lower backup.retention_days (7 works) so old backups get deleted.",
     "Use a longer password with at least one digit."),
    ("Add a seat", "How do I add a teammate to our plan?",
     "Team > Invite adds a seat; it is billed from the next invoice.",
     "Open Team and choose Invite; the new seat shows on the next invoice.",
     "Clear the cache with acme cache clear."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="a model folder (default: bundled SmolLM2)")
    args = parser.parse_args()

    from understudy.evaluate.judge import Judge
    from understudy.records import Message, Thread
    from understudy.workspace import Workspace

    workspace = Workspace(tempfile.mkdtemp())
    judge = Judge(workspace, f"local:{args.model}" if args.model else "local")
    right, wrong, seconds = [], [], []
    for title, question, reference, good, bad in CASES:
        thread = Thread("bench", title, "", title,
                        messages=[Message("q", "customer", question, "2024-01-01T00:00:00Z")])
        for draft, into in ((good, right), (bad, wrong)):
            started = time.perf_counter()
            into.append(judge.rate(thread, SimpleNamespace(reference=reference,
                                                           draft=draft))["score"])
            seconds.append(time.perf_counter() - started)
    print(json.dumps({
        "cases": len(CASES),
        "mean_score_right": round(sum(right) / len(right), 3),
        "mean_score_wrong": round(sum(wrong) / len(wrong), 3),
        "right_scored_higher": sum(r > w for r, w in zip(right, wrong, strict=True)),
        "seconds_per_rating": round(sorted(seconds)[len(seconds) // 2], 2),
        "load_average": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
