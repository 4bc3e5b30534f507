"""Changes a source announced (webhooks), on their way to a debounced incremental sync: the queued notice and its
queue."""
