# mailbot: slim Python, a non-root user, state in the /data volume, `mailbot run` as the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MAILBOT_CONFIG=/data/config.toml

WORKDIR /app
# The code and the data folders admins edit (the calls' rules, the reply templates) live together in /app;
# an editable install keeps them beside the package, where mailbot looks when a config names no other.
COPY pyproject.toml README.md config.example.toml ./
COPY mailbot ./mailbot
COPY rules ./rules
COPY replies ./replies
RUN pip install --no-cache-dir -e .

RUN useradd --system --create-home --uid 10001 mailbot \
    && mkdir -p /data && chown mailbot:mailbot /data
USER mailbot
VOLUME ["/data"]
WORKDIR /data

# Healthy while the heartbeat (touched every cycle) is younger than 5 minutes; keep
# [schedule] interval_seconds well below that.
HEALTHCHECK --interval=60s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os,sys,time; p='/data/var/heartbeat'; sys.exit(0 if os.path.exists(p) and time.time()-os.path.getmtime(p) < 300 else 1)"

ENTRYPOINT ["mailbot"]
CMD ["run"]
