"""Pasted stage metrics -> a diagnosis against benchmarks -> a quarterly quick-win plan."""
