"""Conversation: LLM backends, the offline planner, grounding checks."""
