# The Functions app as a container, on the official Azure Functions Python base image (host v4, Python 3.11).
# Only what is deployed goes in: the same files a remote build publishes (no devhost/, sandbox/, tests/, bench/).
# Verified statically by tests/infra/test_compose.py (no Docker engine runs in the project's CI).
#   docker build -t bizmetrics-functions .        (docker compose up builds it too)
FROM mcr.microsoft.com/azure-functions/python:4-python3.11

# Port 8080, not the image's 80, so the host can run without root; console logs, no log files to write.
ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    AzureFunctionsJobHost__Logging__FileLoggingMode=Never \
    AzureFunctionsJobHost__FileWatchingEnabled=false \
    AzureWebJobsFeatureFlags=EnableWorkerIndexing \
    FUNCTIONS_WORKER_RUNTIME=python \
    ASPNETCORE_URLS=http://+:8080 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Every package pinned with its hashes (pip refuses anything unpinned, unhashed or altered, dependencies
# included); the lock is compiled for Python 3.11 from requirements.txt's ranges (README, Dependencies).
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock

WORKDIR /home/site/wwwroot
COPY function_app.py host.json requirements.txt requirements.lock ./
COPY api/ api/
COPY activities/ activities/
COPY orchestrators/ orchestrators/
COPY plugins/ plugins/
COPY shared/ shared/

# A user without a login: the code stays root-owned (read-only to the app); the host needs to write to its own
# folders and to the extension bundles it unpacks (Azure/azure-functions-docker#424).
RUN groupadd --system --gid 10001 functions \
    && useradd --system --uid 10001 --gid functions --home-dir /home/functions --create-home \
        --shell /usr/sbin/nologin functions \
    && for dir in /azure-functions-host /FuncExtensionBundles; do \
        if [ -d "$dir" ]; then chown -R functions:functions "$dir"; fi; \
    done
ENV HOME=/home/functions
USER functions
EXPOSE 8080

# Liveness only (no I/O): /api/health/ready also needs the database and storage, which compose checks in order.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/health/live', timeout=4)"]
