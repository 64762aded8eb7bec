"""Shared fixtures: a running Chorus server on 127.0.0.1, port 0, and a client helper."""
