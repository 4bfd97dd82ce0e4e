"""The turn loop: a session's audio in, turns, responses, and its events out."""
