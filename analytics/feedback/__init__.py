"""Feedback evidence: redaction, sentiment, local embeddings in Chroma, themes and friction."""
