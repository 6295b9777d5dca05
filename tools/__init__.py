"""The agent's tools: typed wrappers over `analytics` (one tool = one question)."""
