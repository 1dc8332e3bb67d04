# slychat's container image: `slychat migrate`, then `slychat serve` on port 8000, as a
# non-root user. Build: `docker build -t slychat .`; run and configure: docs/deployment.md.
# Settings are SLYCHAT_* environment variables (README.md lists them), for example:
#   SLYCHAT_DATABASE_URL  postgresql://user:password@db/slychat (default: SQLite in the volume)
#   SLYCHAT_REDIS_URL     redis://redis:6379/0, needed by every node when there are several
#   SLYCHAT_JWT_SECRET    your platform's token secret (or SLYCHAT_JWT_PUBLIC_KEY)
#   SLYCHAT_PUBLIC_URL    the address clients reach, used in media URLs (unset: loopback,
#                         http://127.0.0.1:8000, since the image binds 0.0.0.0)
#   SLYCHAT_CLIENT_IP_HEADER  X-Real-IP behind the nginx site of deploy/nginx/

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1: slychat and every dependency as wheels.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

# Stage 2: the runtime, with the wheels installed and no build tools.
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SLYCHAT_HOST=0.0.0.0 \
    SLYCHAT_PORT=8000 \
    SLYCHAT_DATABASE_URL=sqlite:////var/lib/slychat/slychat.db \
    SLYCHAT_MEDIA_DIR=/var/lib/slychat/media

RUN groupadd --system --gid 10001 slychat \
    && useradd --system --uid 10001 --gid slychat --home-dir /var/lib/slychat \
        --shell /usr/sbin/nologin slychat \
    && mkdir -p /var/lib/slychat/media \
    && chown -R slychat:slychat /var/lib/slychat

# Only the wheels that slychat's own wheel names: nothing is fetched at this stage.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/slychat-*.whl

COPY deploy/docker/entrypoint.sh /usr/local/bin/slychat-entrypoint
COPY deploy/docker/healthcheck.py /usr/local/bin/slychat-healthcheck

# The SQLite file (when no SLYCHAT_DATABASE_URL is given) and the local media store.
VOLUME ["/var/lib/slychat"]
WORKDIR /var/lib/slychat
USER 10001:10001
EXPOSE 8000

# Liveness only; orchestrators that route traffic should also ask GET /readyz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/slychat-healthcheck"]

# SIGTERM starts slychat's drain: give `docker stop` more than SLYCHAT_SHUTDOWN_TIMEOUT
# (30 s by default), e.g. `docker stop --time 45` or compose's `stop_grace_period: 45s`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/slychat-entrypoint"]
