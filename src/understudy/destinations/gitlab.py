"""Posting a reviewed draft as a note on the GitLab issue it answers."""

from __future__ import annotations

from typing import Any

from gitlab.v4.objects import CurrentUserManager

from ..errors import SendError
from ..records import Thread
from ..sources.gitlab import configured_url, gitlab_errors, instance_for, parse_issue_url
from .base import Destination, Posted


class GitLabDestination(Destination):
    """A note on the issue; finds an earlier note by its marker so a retry never posts twice."""

    name = "gitlab"

    def find(self, thread: Thread, marker: str) -> Posted | None:
        """The note (searched newest first, over every page) whose body carries `marker`."""
        instance, issue, label = self._issue(thread)
        with gitlab_errors(instance, f"notes of {label}", SendError):
            for note in issue.notes.list(sort="desc", order_by="created_at", iterator=True):
                if marker in (note.body or ""):
                    return Posted(str(note.id), _note_url(thread, note.id), note.body)
        return None

    def post(self, thread: Thread, body: str, internal: bool = False) -> Posted:
        """Create a note with `body` as markdown, sent in the JSON request body."""
        instance, issue, label = self._issue(thread)
        data: dict[str, Any] = {"body": body}
        if internal:
            data["internal"] = True  # GitLab 15.6+; older servers read `confidential`
            data["confidential"] = True
        with gitlab_errors(instance, f"a note on {label}", SendError):
            note = issue.notes.create(data)
        return Posted(str(note.id), _note_url(thread, note.id), note.body)

    def update(self, thread: Thread, posted: Posted, body: str) -> Posted:
        """Edit the note `posted` to `body` (PUT of the note, JSON body)."""
        instance, issue, label = self._issue(thread)
        with gitlab_errors(instance, f"note {posted.id} on {label}", SendError):
            note = issue.notes.get(int(posted.id), lazy=True)
            note.body = body
            note.save()
        return Posted(posted.id, posted.url, getattr(note, "body", body))

    def own_user(self, thread: Thread) -> str | None:
        """The token's user (a project or group access token's bot user included)."""
        instance, _, _ = self._issue(thread)
        gl = instance.client()
        with gitlab_errors(instance, "the token's own user", SendError):
            user = CurrentUserManager(gl).get()  # GET /user, what gl.auth() asks
        return getattr(user, "username", None)

    def _issue(self, thread: Thread) -> tuple[Any, Any, str]:
        project, _, iid = thread.external_id.rpartition("#")
        if not project or not iid.isdigit():
            raise SendError(
                f"Ticket {thread.id} ({thread.external_id}) is not a GitLab issue reference: "
                "add it again with 'understudy add URL'"
            )
        ref = parse_issue_url(thread.url, configured_url(self.settings)) if thread.url else None
        instance = instance_for(self.settings, ref.base_url if ref else None, required=False)
        if instance.token is None:
            raise SendError(
                f"No GitLab token for {instance.url}: set GITLAB_URL={instance.url} and "
                "GITLAB_TOKEN to a personal access token (api scope) to post there"
            )
        # No retries on 5xx or timeouts: the note may have landed; the marker check on the
        # next send finds it instead.
        gl = instance.client()
        issue = gl.projects.get(project, lazy=True).issues.get(int(iid), lazy=True)
        return instance, issue, f"{project}#{iid}"


def _note_url(thread: Thread, note_id: int) -> str:
    return f"{thread.url.split('#')[0]}#note_{note_id}"
