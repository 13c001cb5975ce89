"""`understudy review`: being written."""
