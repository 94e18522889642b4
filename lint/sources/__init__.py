"""Readers: one per file kind, each turning a file into facts with positions."""
