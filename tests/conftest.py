"""Settings shared by every test: fake AWS credentials and a quiet, trace-free powertools."""

import os

REGION = "eu-central-1"


def pytest_configure(config):
    # Set before any test imports a module that might build an AWS client.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "AutopostTest",
            "POWERTOOLS_SERVICE_NAME": "autopost",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
