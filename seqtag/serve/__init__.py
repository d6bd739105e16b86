"""`seqtag serve`: models kept loaded behind an HTTP API (FastAPI on uvicorn), with dynamic batching.

``limits``       Limits: every bound on a request (body size, texts, characters, n-best) and the batching knobs
``batching``     Batcher: concurrent requests gathered into shared forward passes in one worker thread
``service``      Served models, the parsing and checking of prediction requests, and their records, which
                 come from the task's own writer (the very JSONL lines of ``seqtag predict --format jsonl``)
``annotators``   Label Studio's ML-backend protocol and Doccano's custom REST template over the same models
``app``          the FastAPI application: routes, the request guard (body size, read timeout, content type)
                 and errors as JSON (4xx, never a traceback)
``pages``        static HTML: the page at ``/`` and the pages of ``predict --format html`` / ``evaluate --html``

Everything here is imported by ``seqtag serve`` (and the two HTML writers) only, so the rest of seqtag never
loads FastAPI. The request and response formats are documented in docs/serve.md.
"""
