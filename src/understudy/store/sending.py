"""Store queries for sending a draft: claim it, release it, record it sent, each one conditional.

Every write here is a compare-and-set on the draft's status and claimant, so of several senders
(processes or threads) exactly one moves the draft from one state to the next.
"""

from __future__ import annotations

import sqlite3
import threading

from .migrations import now


class AlreadyAnswered(Exception):
    """Another draft of the ticket is being sent or was sent as the answer to the same message."""

    def __init__(self, answers: str, draft_id: int | None, status: str | None):
        super().__init__(answers)
        self.answers, self.draft_id, self.status = answers, draft_id, status


class SendQueries:
    """Draft claims; mixed into Store, which owns `db` and `lock`."""

    db: sqlite3.Connection
    lock: threading.RLock

    def claim_draft(
        self, draft_id: int, claimant: str, seen_status: str, seen_claimant: str | None,
        final_text: str, answers: str | None = None,
    ) -> bool:
        """Mark the draft 'sending' by `claimant` if it is still as it was seen; True if won.

        `answers` names the customer message the draft answers: a unique index keeps it to one
        claimed or sent draft, so AlreadyAnswered is raised when another one holds it.
        """
        stamp = now()
        try:
            with self.lock, self.db:
                cursor = self.db.execute(
                    "UPDATE drafts SET status = 'sending', claimed_by = ?, claimed_at = ?,"
                    " final_text = ?, error = NULL, updated_at = ?, answers = ?"
                    " WHERE id = ? AND status = ? AND claimed_by IS ?",
                    (claimant, stamp, final_text, stamp, answers, draft_id, seen_status,
                     seen_claimant),
                )
        except self.db.IntegrityError:
            row = self.db.execute("SELECT id, status FROM drafts WHERE answers = ?",
                                  (answers,)).fetchone()
            raise AlreadyAnswered(answers or "", row["id"] if row else None,
                                  row["status"] if row else None) from None
        return cursor.rowcount == 1

    def release_draft(self, draft_id: int, claimant: str, status: str, error: str | None) -> bool:
        """Give a claim up after a failed send (back to `status`, keeping the error)."""
        with self.lock, self.db:
            cursor = self.db.execute(
                "UPDATE drafts SET status = ?, claimed_by = NULL, claimed_at = NULL, error = ?,"
                " answers = NULL, updated_at = ?"
                " WHERE id = ? AND status = 'sending' AND claimed_by = ?",
                (status, error, now(), draft_id, claimant),
            )
        return cursor.rowcount == 1

    def record_sent(
        self, draft_id: int, claimant: str, final_text: str, sent_to: str, sent_id: str,
        error: str | None = None,
    ) -> bool:
        """Mark a claimed draft sent with the text the destination shows; True if still ours."""
        with self.lock, self.db:
            cursor = self.db.execute(
                "UPDATE drafts SET status = 'sent', final_text = ?, sent_to = ?, sent_id = ?,"
                " error = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ?"
                " WHERE id = ? AND status = 'sending' AND claimed_by = ?",
                (final_text, sent_to, sent_id, error, now(), draft_id, claimant),
            )
        return cursor.rowcount == 1
