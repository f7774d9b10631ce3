# One image for the API, the worker, the simulator and `dom setup` (compose picks the command).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml README.md ./
COPY src ./src
COPY activities ./activities
COPY workers ./workers
# Editable install: the package then finds examples/ (network, policy, demo secrets) under /app.
RUN pip install -e .
COPY examples ./examples

RUN useradd --create-home --uid 10001 dom && mkdir -p /app/.dom && chown dom /app/.dom
USER dom

EXPOSE 8000 8100
CMD ["dom", "--help"]
