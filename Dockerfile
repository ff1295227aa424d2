# syntax=docker/dockerfile:1
# The modelops operator image: the wheel built in one stage, installed in a slim runtime that
# runs as a non-root user on a read-only root filesystem. BASE is any image with Python 3.11
# and pip: the local cluster builds this file with buildah on a Debian base of its own
# (hack/images/build.sh), a normal `docker build` takes the default.
ARG BASE=python:3.11.7-slim-bookworm
FROM ${BASE} AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m build --wheel --outdir /dist

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm -f /tmp/*.whl \
 && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin modelops
USER 65532:65532
# 8080: /healthz (kopf liveness) and 9090: /metrics, as the chart's probes and Service expect.
EXPOSE 8080 9090
ENTRYPOINT ["kopf", "run", "-m", "modelops.handlers", "--all-namespaces", \
            "--liveness=http://0.0.0.0:8080/healthz"]
