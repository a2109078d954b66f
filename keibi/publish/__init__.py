"""Publishing: event patterns, targets, export destinations (see DESIGN.md)."""
