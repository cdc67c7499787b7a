"""Schema evolution: modes for undeclared headers, the schema registry, diff and approval."""
