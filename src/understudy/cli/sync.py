"""`understudy sync`: being written."""
