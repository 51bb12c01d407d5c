"""The web interface's names that tracker extensions use."""
