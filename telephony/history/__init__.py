"""Off the hot path: what Switchboard keeps in the database. Call facts
derived from the live model's changes, the batched history writer, the
extension directory and the command audit (all writes in `services`)."""
