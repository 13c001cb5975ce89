"""Posting a reviewed draft as a comment on the GitHub issue it answers."""

from __future__ import annotations

from typing import Any

from ..errors import SendError
from ..records import Thread
from ..sources.github import github_errors, instance_for, parse_issue_url
from .base import Destination, Posted


class GitHubDestination(Destination):
    """A comment on the issue; finds an earlier comment by its marker so a retry never posts
    twice."""

    name = "github"
    no_internal = "GitHub issues have no internal comments: send without --internal"

    def find(self, thread: Thread, marker: str) -> Posted | None:
        """The comment (searched over every page) whose body carries `marker`."""
        instance, issue, label = self._issue(thread)
        with github_errors(instance, f"comments of {label}", SendError):
            for comment in issue.get_comments():
                if marker in (comment.body or ""):
                    return Posted(str(comment.id), comment.html_url, comment.body)
        return None

    def post(self, thread: Thread, body: str, internal: bool = False) -> Posted:
        """Create a comment with `body` as markdown."""
        if internal:
            raise SendError(self.no_internal)
        instance, issue, label = self._issue(thread)
        with github_errors(instance, f"a comment on {label}", SendError):
            comment = issue.create_comment(body)
        return Posted(str(comment.id), comment.html_url, comment.body)

    def update(self, thread: Thread, posted: Posted, body: str) -> Posted:
        """Edit the comment `posted` to `body`."""
        instance, issue, label = self._issue(thread)
        with github_errors(instance, f"comment {posted.id} on {label}", SendError):
            comment = issue.get_comment(int(posted.id))
            comment.edit(body)
        return Posted(posted.id, comment.html_url or posted.url, comment.body)

    def own_user(self, thread: Thread) -> str | None:
        """The login the token posts as (an app's bot login included)."""
        instance, _, _ = self._issue(thread)
        with github_errors(instance, "the token's own user", SendError):
            return instance.client(writes=False).get_user().login

    def _issue(self, thread: Thread) -> tuple[Any, Any, str]:
        repo, _, number = thread.external_id.rpartition("#")
        if repo.count("/") != 1 or not number.isdigit():
            raise SendError(
                f"Ticket {thread.id} ({thread.external_id}) is not a GitHub issue reference: "
                "add it again with 'understudy add URL'"
            )
        ref = parse_issue_url(thread.url) if thread.url else None
        instance = instance_for(self.settings, ref.base_url if ref else None, required=False)
        if instance.token is None:
            raise SendError(f"No GitHub token for {instance.url}: set GITHUB_TOKEN (and "
                            "GITHUB_URL for GitHub Enterprise) to post there")
        # A lazy client: the repository and issue are not fetched, only their comments.
        issue = instance.client(writes=True, lazy=True).get_repo(repo).get_issue(int(number))
        return instance, issue, f"{repo}#{number}"
