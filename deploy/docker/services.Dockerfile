# syntax=docker/dockerfile:1.7
# Kinora services image: identity, cameo, feed, generator (API and workers), billing,
# gateway and the migration jobs. Build from the repository root:
#   docker build -f deploy/docker/services.Dockerfile -t registry.example.com/kinora/kinora:0.1.0 .
# Base pinned to an exact tag; pin the digest too when you publish (see docs/ops.md).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/kinora
ENV PATH=/opt/kinora/bin:$PATH
# The services use torch only for the embedding model: the CPU wheel is a tenth of the CUDA one.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
COPY pyproject.toml ./
COPY kinora/ kinora/
COPY services/ services/
COPY worldsim/ worldsim/
RUN pip install . && python -c "import kinora, services"

FROM ${PYTHON_IMAGE} AS runtime
# Same ids as the chart's podSecurity; no login shell, no home on the read-only root.
RUN groupadd --system --gid 10001 kinora \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin kinora
COPY --from=build /opt/kinora /opt/kinora
# The web app's static files, served by the gateway at / (docs/web.md).
COPY web/ /opt/kinora/web/
ENV PATH=/opt/kinora/bin:$PATH \
    KINORA_WEB_DIR=/opt/kinora/web \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 50051 8080 9464
# The chart sets the command per component (python -m services.<name>).
CMD ["python", "-m", "services.gateway"]
