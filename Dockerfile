# syntax=docker/dockerfile:1
# Nashra's image: the `nashra` command with the PostgreSQL extra, run as a non-root user.
#
#   docker build -t nashra .
#   docker run -d -e NASHRA_TELEGRAM_TOKEN=... -v nashra-data:/data nashra     # `nashra run`
#
# Everything Nashra writes lives in /data (the SQLite file and the translation models), so
# keep a volume there. compose.yaml runs the same image as `nashra bot` and `nashra worker`
# processes on PostgreSQL. No secret is baked in: the bot token and the database URL come
# from the environment ($NASHRA_TELEGRAM_TOKEN, $NASHRA_DATABASE_URL).

ARG PYTHON_IMAGE=python:3.12-slim

# --- build: the locked dependencies and Nashra itself in /app/.venv ---------------------------
FROM ${PYTHON_IMAGE} AS build
# The uv that wrote uv.lock; `--locked` refuses to start if the lock is out of date.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.12
WORKDIR /app
# Dependencies first, from the lock alone: this layer is rebuilt only when uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --extra postgres --no-install-project
# Then Nashra (README.md is the package's long description, so the build needs it).
COPY README.md ./
COPY bot ./bot
RUN uv sync --locked --no-dev --extra postgres --no-editable

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin nashra \
    && mkdir -p /data/models \
    && chown -R nashra:nashra /data
COPY --from=build /app/.venv /app/.venv
# The image's configuration: where the data lives and the health endpoint, nothing else (the
# built-in defaults, the bundled feeds). To change settings (admins, feeds, webhook mode),
# mount your own file over /app/config.toml, keeping these three settings; in webhook mode set
# telegram.listen to "0.0.0.0:8443" so the server is reachable from outside the container (and
# metrics.listen to "0.0.0.0:9464" for a Prometheus outside it: the healthcheck still works).
COPY <<EOF /app/config.toml
# Nashra inside the container image: data and models on the /data volume, /metrics and
# /healthz on the container's loopback for the HEALTHCHECK. No secrets here.
[storage]
path = "/data/nashra.db"

[translation]
models_dir = "/data/models"

[metrics]
listen = "127.0.0.1:9464"
EOF
ENV PATH="/app/.venv/bin:${PATH}" \
    NASHRA_CONFIG=/app/config.toml \
    PYTHONUNBUFFERED=1
USER nashra
WORKDIR /data
VOLUME ["/data"]
# Each Nashra process (`run`, `bot`, `worker`) answers GET /healthz on metrics.listen: 200
# while it works, 503 otherwise. The image has no curl: Python asks, and urlopen raises (exit
# 1) on a 503, a refused connection or a timeout. The start period covers loading the model
# (or downloading it, on a first start without `models install`). A one-off command such as
# `migrate` serves nothing; compose.yaml turns the check off for it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9464/healthz', timeout=8)"]
ENTRYPOINT ["/app/.venv/bin/nashra"]
CMD ["run"]
