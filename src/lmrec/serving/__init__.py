"""The recommendation service. Import `lmrec.serving.app.create_app` for the HTTP app
(FastAPI, in the `serve` extra); `lmrec.store.registry` works without it."""
