"""Destinations: where a reviewed draft is posted (GitLab note, GitHub comment, Slack reply)."""
