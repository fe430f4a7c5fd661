"""Protea's reference application: a tiny shopper-engagement API.

Stdlib + one DB driver (psycopg2 for PostgreSQL, PyMySQL for MySQL/MariaDB),
served as a plain WSGI callable (shopper_app.wsgi:application) by gunicorn.
"""
