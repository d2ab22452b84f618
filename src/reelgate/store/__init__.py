"""The task store: the tasks table is the queue. `SqlStore` holds the only SQL in reelgate;
`MemoryStore` keeps the same rules in memory (store.base draws the protocols)."""
