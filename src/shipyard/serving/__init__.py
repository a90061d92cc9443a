"""The data plane: serve registered models over HTTP (Open Inference Protocol V2 and
plain JSON). Transport-neutral logic lives in :mod:`.dataplane`; only :mod:`.app`
knows HTTP."""
