"""Settings of the benchmark server: the project's, plus the benchmark's no-op endpoints."""

from config.settings import *  # noqa: F403  # the benchmark measures the real configuration

ROOT_URLCONF = "bench.urls"
