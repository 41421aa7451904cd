"""Lab configs shipped inside the package (the default simulated lab)."""
