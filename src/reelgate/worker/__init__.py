"""Workers: claim a task, run its engine, publish the files, finish the task."""
