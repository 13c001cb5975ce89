"""`understudy demo`: being written."""
