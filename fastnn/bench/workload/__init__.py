"""What is measured: the cases (layer sizes, batch sizes, FLOP counts, data), a user's own
model as the case, and the memory a sweep of them needs. The ops timed on them are the
library's table, :mod:`fastnn.ops`."""
