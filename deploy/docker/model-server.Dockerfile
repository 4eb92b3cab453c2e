# syntax=docker/dockerfile:1.7
# Kinora model-server image: Triton (the tritonserver carried by the nvidia-pytriton
# wheel) serving worldsim and ltx2. CUDA comes with the PyPI torch wheels; the GPU
# driver comes from the node (NVIDIA container toolkit), so the base stays a plain
# Debian Python with glibc 2.36 (PyTriton needs >= 2.35) and a shared libpython.
#   docker build -f deploy/docker/model-server.Dockerfile -t registry.example.com/kinora/kinora-model-server:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Extras of the kinora package the model server needs (e.g. the diffusers stack for ltx2).
ARG MODEL_EXTRAS=ltx2
RUN python -m venv /opt/kinora
ENV PATH=/opt/kinora/bin:$PATH
# Default PyPI torch for Linux x86_64 is the CUDA 12 build.
RUN pip install torch==2.13.0
WORKDIR /src
COPY pyproject.toml ./
COPY kinora/ kinora/
COPY services/ services/
COPY worldsim/ worldsim/
RUN pip install ".[${MODEL_EXTRAS}]" && python -c "import kinora, pytriton"

FROM ${PYTHON_IMAGE} AS runtime
# libgomp for torch CPU kernels; Triton's Python backend stub needs nothing else here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 kinora \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin kinora
COPY --from=build /opt/kinora /opt/kinora
ENV PATH=/opt/kinora/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,video
USER 10001:10001
EXPOSE 8000 8001 8002
ENTRYPOINT ["python", "-m", "kinora.models.serve"]
CMD ["--model", "worldsim", "--grpc-port", "8001", "--http-port", "8000", "--metrics-port", "8002"]
