# One image for web (gunicorn), asgi (uvicorn), worker and beat; see docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs importable production settings, not real secrets: throwaway values.
RUN DJANGO_ENV=production DJANGO_SECRET_KEY=collectstatic-only DATABASE_URL=postgresql://build@localhost/build \
    QM_ENCRYPTION_KEYS="build:$(python -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')" \
    python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 quartermaster
USER quartermaster
EXPOSE 8000 8001
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "4"]
