# Hookyard: a slim image that runs the daemon as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY receiver ./receiver
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/hookyard --create-home hookyard
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /etc/hookyard
COPY config.example.yaml /etc/hookyard/config.yaml
COPY rules /etc/hookyard/rules
# The example config reads one dev-only secret from a file (secret_file:); mount real ones.
COPY secrets /etc/hookyard/secrets
# The example config keeps its SQLite file under data/ beside the config. In the image data/
# IS the volume (not a folder inside it): an empty bind mount, which hides whatever the image
# had there, is then still the data folder instead of leaving a dangling link.
RUN ln -s /var/lib/hookyard /etc/hookyard/data && chown -R hookyard /var/lib/hookyard
USER hookyard
VOLUME ["/var/lib/hookyard"]
EXPOSE 8080
ENV PYTHONUNBUFFERED=1 HOOKYARD_CONFIG=/etc/hookyard/config.yaml
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
# Reachable from outside the container: serve refuses to start while a source still uses one of
# the example config's public dev-only secrets (pass them with -e; README "Docker").
CMD ["hookyard", "serve", "--host", "0.0.0.0"]
