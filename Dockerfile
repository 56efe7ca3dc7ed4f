FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN DEBUG=true python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["uvicorn", "inventory_site.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
