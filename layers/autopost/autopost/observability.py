"""The one Logger, Metrics and Tracer of the service; every module imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "autopost"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Autopost", service=SERVICE)
tracer = Tracer(service=SERVICE)
