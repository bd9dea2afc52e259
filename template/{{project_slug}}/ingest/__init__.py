"""Durable ingestion: every accepted conversation is a job in a durable queue.

`model.py` is the interface the service uses; `embedded.py` keeps the queue in SQLite under
DATA_DIR with workers inside the service process (the default); `distributed.py` keeps it in
Redis through SAQ, with separate `python -m <package>.worker` processes (JOB_QUEUE_URL set).
`runner.py` is what a worker does with a job, whichever queue delivered it.
"""
