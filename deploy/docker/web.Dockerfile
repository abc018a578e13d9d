# web (the dashboard people open in a browser; HTTP and metrics, no gRPC server of its
# own), built from the repository root once the front end is bundled:
#   make web-assets && docker build -f deploy/docker/web.Dockerfile -t mhin/web:<version> .
# The bundle (services/web/src/mhin_web/static/build, made from npm packages by
# services/web/frontend/build.mjs) is installed with the package: the pages load nothing
# from another site. The build stage installs this service's workspace packages and
# nothing else, every third-party version taken from requirements.lock, into a virtual
# environment; the runtime stage copies that environment alone.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/mhin
WORKDIR /src
COPY requirements.lock ./
COPY libs/contracts libs/contracts
COPY libs/platform libs/platform
COPY libs/measures libs/measures
COPY services/web services/web
RUN test -f services/web/src/mhin_web/static/build/app.js \
 && /opt/mhin/bin/pip install --constraint requirements.lock ./libs/contracts ./libs/platform ./libs/measures ./services/web

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric id, so Kubernetes' runAsNonRoot can check it without a passwd file.
RUN groupadd --system --gid 10001 mhin \
 && useradd --system --uid 10001 --gid mhin --home-dir /var/lib/mhin --no-create-home \
      --shell /usr/sbin/nologin mhin \
 && install --directory --owner=mhin --group=mhin /var/lib/mhin
COPY --from=build /opt/mhin /opt/mhin
# Defaults for a container; Kubernetes and compose set every MHIN_* variable explicitly
# (the services' addresses among them). The root filesystem can be read-only.
ENV PATH=/opt/mhin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MHIN_SERVICE_NAME=web \
    MHIN_HTTP_HOST=0.0.0.0 \
    MHIN_HTTP_PORT=8080 \
    MHIN_METRICS_PORT=9457 \
    MHIN_DATA_DIR=/var/lib/mhin
WORKDIR /var/lib/mhin
USER 10001:10001
EXPOSE 8080 9457
CMD ["mhin-web"]
