# stream-processors (faust workers: aggregates and SPC signals; metrics only, no gRPC), built from the repository root:
#   docker build -f deploy/docker/stream-processors.Dockerfile -t mhin/stream-processors:<version> .
# The build stage installs this service's workspace packages and nothing else, every
# third-party version taken from requirements.lock, into a virtual environment; the
# runtime stage copies that environment alone (no source tree, pip cache or build tools).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/mhin
WORKDIR /src
COPY requirements.lock ./
COPY libs/contracts libs/contracts
COPY libs/measures libs/measures
COPY libs/platform libs/platform
COPY services/aggregator services/aggregator
RUN /opt/mhin/bin/pip install --constraint requirements.lock ./libs/contracts ./libs/measures ./libs/platform ./services/aggregator

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric id, so Kubernetes' runAsNonRoot can check it without a passwd file.
RUN groupadd --system --gid 10001 mhin \
 && useradd --system --uid 10001 --gid mhin --home-dir /var/lib/mhin --no-create-home \
      --shell /usr/sbin/nologin mhin \
 && install --directory --owner=mhin --group=mhin /var/lib/mhin
COPY --from=build /opt/mhin /opt/mhin
# Defaults for a container; Kubernetes and compose set every MHIN_* variable explicitly.
# The code is root-owned and byte-compiled at install, so the root filesystem can be
# read-only; /var/lib/mhin is the one writable place (MHIN_DATA_DIR, a SQLite default).
ENV PATH=/opt/mhin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MHIN_SERVICE_NAME=stream-processors \
    MHIN_METRICS_HOST=0.0.0.0 \
    MHIN_METRICS_PORT=9456 \
    MHIN_DATA_DIR=/var/lib/mhin
WORKDIR /var/lib/mhin
USER 10001:10001
EXPOSE 9456
CMD ["mhin-aggregator"]
