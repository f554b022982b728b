# Stand-in for python:3.12-slim (CI has no registry): Debian's python3 with venv.
ARG BASE
FROM ${BASE}
CMD ["python3"]
