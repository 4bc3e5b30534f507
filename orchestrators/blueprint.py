"""The orchestrators' blueprint, registered by function_app.py."""

import azure.durable_functions as df

bp = df.Blueprint()

# Activities touch PostgreSQL, blobs and APIs: transient failures are retried by the runtime.
ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)
