"""The domain in plain types: tasks, generation specs, camera paths. No dialect, SQL or codec."""
