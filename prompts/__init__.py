"""Prompt and narrative templates, as text files versioned with the code."""
