"""Drills: scenario files, the runner (steady state → faults → response → revert → score)."""
