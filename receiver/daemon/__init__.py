"""The running daemon: uvicorn serving, its HTTP limits, start-up checks, the process supervisor."""
