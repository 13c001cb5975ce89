"""`understudy eval`: being written."""
