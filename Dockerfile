# The claire engine image. claire builds it through the Docker SDK (`claire up` with
# CLAIRE_RUNTIME=docker) from a context it assembles: pyproject.toml, README.md, engine/,
# src/, sql/, examples/ (the example strategies, importable as examples.strategies...), this
# Dockerfile, requirements.txt (the dependencies pyproject.toml lists, so
# their wheels stay cached while only the code changes) and build-ca/ (an optional CA
# bundle pip trusts, for an intercepting HTTPS proxy).
ARG BASE_IMAGE=python:3.12-slim

# 1. Wheels of the project and of every dependency.
FROM ${BASE_IMAGE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120
COPY build-ca/ /tmp/build-ca/
COPY requirements.txt /tmp/requirements.txt
RUN if [ -f /tmp/build-ca/ca.crt ]; then export PIP_CERT=/tmp/build-ca/ca.crt; fi \
 && python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --quiet --wheel-dir /wheels -r /tmp/requirements.txt
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sql ./sql
COPY src ./src
COPY engine ./engine
RUN if [ -f /tmp/build-ca/ca.crt ]; then export PIP_CERT=/tmp/build-ca/ca.crt; fi \
 && /opt/build/bin/pip wheel --quiet --no-deps --wheel-dir /wheels .

# 2. A virtual environment from those wheels only (no network, no compilers).
FROM ${BASE_IMAGE} AS venv
COPY --from=wheels /wheels /wheels
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-index --find-links /wheels claire-de-binare \
 && /opt/venv/bin/python -c "import engine, claire_cli"

# 3. The runtime: the venv and an unprivileged account, nothing else.
FROM ${BASE_IMAGE}
COPY --from=venv /opt/venv /opt/venv
COPY examples /opt/claire/examples
RUN echo 'claire:x:10001:10001:claire engine:/var/lib/claire:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'claire:x:10001:' >> /etc/group \
 && mkdir -p /var/lib/claire \
 && chown 10001:10001 /var/lib/claire \
 && chmod 0700 /var/lib/claire
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/claire \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/claire \
    CLAIRE_HOME=/var/lib/claire \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /var/lib/claire
EXPOSE 9464
CMD ["python", "-m", "engine", "serve", "--role", "all"]
