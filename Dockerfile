# mailbot: the built wheel (not an editable install) on slim Python, a non-root user, state in /data,
# `mailbot run` as the command.
#
# /data must be writable by the image's user, uid 10001 (e.g. `sudo chown -R 10001:10001 /srv/mailbot` for a
# bind mount); a storage folder mailbot cannot write makes it exit 73 with one line naming the folder.

# --- stage 1: build the wheel; it carries rules/ and replies/ inside the package ---------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mailbot ./mailbot
COPY rules ./rules
COPY replies ./replies
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- stage 2: install it; no source tree in the image --------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MAILBOT_CONFIG=/data/config.toml

# LibreOffice (no GUI) converts .doc, .rtf, .odt and .ods attachments so they can be read (mailbot.readers.convert).
# DejaVu Sans sets the receipt PDF's Vietnamese (mailbot.receipt finds it in /usr/share/fonts/truetype/dejavu).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libreoffice-writer-nogui libreoffice-calc-nogui fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/mailbot-*.whl && rm -rf /tmp/dist
# The example configuration, for reference (`docker cp mailbot:/usr/local/share/mailbot/config.example.toml .`).
COPY config.example.toml /usr/local/share/mailbot/config.example.toml

RUN useradd --system --create-home --uid 10001 mailbot \
    && mkdir -p /data && chown mailbot:mailbot /data
USER mailbot
VOLUME ["/data"]
WORKDIR /data

# `mailbot status` exits 0 healthy, 1 degraded, 2 down. Docker reserves exit code 2 for itself, so any
# failure is reported to it as 1 (unhealthy); the status line itself is kept in `docker inspect`.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD mailbot status || exit 1

ENTRYPOINT ["mailbot"]
CMD ["run"]
