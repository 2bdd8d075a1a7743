"""What is measured: the ops (one table), the cases (layer sizes, batch sizes, FLOP
counts, data), a user's own model as the case, and the memory a sweep of them needs."""
